"""dept_fact.township: the case's township on each group's row, indexed with the group (a township's scope)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 14:30:00.000000

A township's field staff are offered the tasks of its villages, so the groups of their scope hold every
case of the township; the dashboard reads the few of another township (`scoping.fact_scope`) by
(group_code, township). Filled from case_fact; downgrading drops the column.

The dashboard's backfill runs here, at the newest shape of its tables (0025 and 0026 only create them): a
database from before 0025 gets every case's fact rows and the tally (`facts.rebuild_all`), one of 0025
the tally of its fact rows (`facts.rebuild_tally`). A later migration that changes these tables moves it.
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
    from engine.dashboard import facts  # the one computation of the rows and the tally, as the steps keep them
    conn = op.get_bind()
    cases = conn.execute(sa.text("SELECT count(*) FROM application")).scalar_one()
    if facts.fact_count(conn) < cases:
        facts.rebuild_all(conn)
    elif not conn.execute(sa.text("SELECT count(*) FROM fact_tally")).scalar_one():
        facts.rebuild_tally(conn)


def downgrade() -> None:
    op.drop_index('ix_dept_fact_group_township', table_name='dept_fact')
    with op.batch_alter_table('dept_fact') as batch:
        batch.drop_column('township')
