"""The tally's compound slices (a case's values together: matters; status and level; matters and status;
channel and level); case_fact_matter.township

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 17:30:00.000000

The tally's `matter` slice (one per matter: a case of two matters in both) becomes `matters` (one per case:
its matters together, so a 救助类型's cases are a union of codes, each case once), its `status` slice
`status_level` (a status, or a status and a level); `matters_status` and `channel_level` join them (two
filters at once). A slice code now holds several matter codes: 400
characters (PostgreSQL; SQLite does not bound it).

`case_fact_matter.township`: the case's township on each matter's row, indexed with the matter, so a matter
(or 救助类型) and a township asked for together are one index range. Filled from case_fact.

The dashboard's backfill ran here until 0029 added slices (it runs in 0030 now). Downgrading empties the tally:
the release before this one rebuilds it (`relief dashboard rebuild`).
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.alter_column('fact_tally', 'slice_code', type_=sa.String(length=400), existing_nullable=False)
    with op.batch_alter_table('case_fact_matter') as batch:
        batch.add_column(sa.Column('township', sa.String(length=60), server_default='', nullable=False))
    op.execute("UPDATE case_fact_matter SET township = (SELECT case_fact.township FROM case_fact "
               "WHERE case_fact.case_no = case_fact_matter.case_no) "
               "WHERE EXISTS (SELECT 1 FROM case_fact WHERE case_fact.case_no = case_fact_matter.case_no)")
    op.create_index('ix_case_fact_matter_township', 'case_fact_matter', ['matter', 'township', 'case_no'])


def downgrade() -> None:
    op.drop_index('ix_case_fact_matter_township', table_name='case_fact_matter')
    with op.batch_alter_table('case_fact_matter') as batch:
        batch.drop_column('township')
    op.execute("DELETE FROM fact_tally")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('fact_tally', 'slice_code', type_=sa.String(length=100), existing_nullable=False)
