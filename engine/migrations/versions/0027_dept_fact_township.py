"""dept_fact.township: the case's township on each group's row, indexed with the group (a township's scope)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 14:30:00.000000

A township's field staff are offered the tasks of its villages, so the groups of their scope hold every
case of the township; the dashboard reads the few of another township (`scoping.fact_scope`) by
(group_code, township). Filled from case_fact; downgrading drops the column.
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dept_fact') as batch:
        batch.add_column(sa.Column('township', sa.String(length=60), server_default='', nullable=False))
    op.execute("UPDATE dept_fact SET township = (SELECT case_fact.township FROM case_fact "
               "WHERE case_fact.case_no = dept_fact.case_no) "
               "WHERE EXISTS (SELECT 1 FROM case_fact WHERE case_fact.case_no = dept_fact.case_no)")
    op.create_index('ix_dept_fact_group_township', 'dept_fact', ['group_code', 'township'])


def downgrade() -> None:
    op.drop_index('ix_dept_fact_group_township', table_name='dept_fact')
    with op.batch_alter_table('dept_fact') as batch:
        batch.drop_column('township')
