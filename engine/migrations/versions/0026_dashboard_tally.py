"""the dashboard's tally (fact_tally): the fact rows summed per day, slice and dimension, backfilled

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 14:00:00.000000

The tally of the cases on record is computed in 0030 by `engine.dashboard.facts` (the same rows the steps
keep afterwards as deltas); dept_fact gains the index of its open, past-due, unflagged rows
and case_fact one by village (a village's scope, the 村 filter).
Downgrading drops both.
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fact_tally',
        sa.Column('slice', sa.String(length=20), nullable=False),
        sa.Column('slice_code', sa.String(length=100), nullable=False),
        sa.Column('dim', sa.String(length=20), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('code', sa.String(length=100), nullable=False),
        sa.Column('sub', sa.String(length=60), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('ended', sa.BigInteger(), nullable=False),
        sa.Column('cents', sa.BigInteger(), nullable=False),
        sa.Column('done', sa.BigInteger(), nullable=False),
        sa.Column('late', sa.BigInteger(), nullable=False),
        sa.Column('seconds', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('slice', 'slice_code', 'dim', 'day', 'code', 'sub'),
        sqlite_with_rowid=False,
    )
    op.create_index('ix_dept_fact_late', 'dept_fact', ['overdue', 'open_due_at'])
    op.create_index('ix_case_fact_village', 'case_fact', ['village', 'day'])
    # the tally of the cases on record: 0030 computes it, at the fact tables' newest shape


def downgrade() -> None:
    op.drop_index('ix_case_fact_village', table_name='case_fact')
    op.drop_index('ix_dept_fact_late', table_name='dept_fact')
    op.drop_table('fact_tally')
