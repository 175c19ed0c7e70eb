"""the dashboard's fact tables (数据汇聚展示, R-6.4.1): case_fact, case_fact_matter, dept_fact, backfilled

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 05:00:00.000000

The cases on record get their rows in 0030 (`engine.dashboard.facts` computes them for the newest shape of
the tables, so the backfill runs where that shape is reached); downgrading drops the three tables.
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_fact',
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('township', sa.String(length=60), nullable=False),
        sa.Column('village', sa.String(length=60), nullable=True),
        sa.Column('registered_org', sa.String(length=60), nullable=True),
        sa.Column('green', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handling_seconds', sa.BigInteger(), nullable=True),
        sa.Column('handling_hours', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.Column('rating', sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint('case_no'),
    )
    op.create_index('ix_case_fact_day', 'case_fact',
                    ['day', 'status', 'channel', 'level', 'township', 'handling_hours'])
    op.create_index('ix_case_fact_township', 'case_fact', ['township', 'village', 'day', 'status', 'channel'])
    op.create_index('ix_case_fact_channel', 'case_fact', ['channel', 'day', 'status', 'level', 'township'])
    op.create_index('ix_case_fact_clock', 'case_fact', ['day', 'weekday', 'hour', 'township', 'channel'])
    op.create_index('ix_case_fact_registered_org', 'case_fact', ['registered_org'])
    op.create_table(
        'case_fact_matter',
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('matter', sa.String(length=40), nullable=False),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('case_no', 'matter'),
    )
    op.create_index('ix_case_fact_matter_matter', 'case_fact_matter', ['matter', 'case_no', 'amount'])
    op.create_table(
        'dept_fact',
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('group_code', sa.String(length=100), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('overdue', sa.Boolean(), nullable=False),
        sa.Column('open_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handling_seconds', sa.BigInteger(), nullable=True),
        sa.Column('handling_hours', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('case_no', 'group_code'),
    )
    op.create_index('ix_dept_fact_group', 'dept_fact',
                    ['group_code', 'case_no', 'done', 'overdue', 'open_due_at', 'handling_hours',
                     'handling_seconds'])
    op.create_index('ix_human_task_assignee_case', 'human_task', ['assignee', 'case_no'])
    # the rows of the cases on record: 0030 fills them, at the fact tables' newest shape


def downgrade() -> None:
    op.drop_index('ix_human_task_assignee_case', table_name='human_task')
    op.drop_table('dept_fact')
    op.drop_table('case_fact_matter')
    op.drop_table('case_fact')
