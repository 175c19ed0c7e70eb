"""The tally's slices of a department and a status, a channel, matters, or matters and a channel; of matters
and a channel

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 23:00:00.000000

`department_status`, `department_channel`, `department_matters` and `dept_matters_channel` hold a case once
per department that handled it, with that department's own 分部门 rows (as the `department` slice does);
`matters_channel` a case's matters together with its channel. So these asked for together are read from the
tally: a department with a status, a channel, a matter, or a matter and a channel; a matter with a channel —
and so a department's own cases under one or two more filters.
No column changes.

The dashboard's backfill runs here, at the newest shape of its tables (0025–0028 only create or fill
columns): a database without every case's fact rows gets them and the tally (`facts.rebuild_all`), any other
the tally of its fact rows (`facts.rebuild_tally`). A later migration that changes these tables moves it.
Downgrading deletes the new slices' rows (the release before never reads them).
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

NEW_SLICES = ("department_status", "department_channel", "department_matters", "dept_matters_channel",
              "matters_channel")


def upgrade() -> None:
    conn = op.get_bind()
    from engine.dashboard import facts  # the one computation of the rows and the tally, as the steps keep them
    cases = conn.execute(sa.text("SELECT count(*) FROM application")).scalar_one()
    if facts.fact_count(conn) < cases:
        facts.rebuild_all(conn)
    else:
        facts.rebuild_tally(conn)


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM fact_tally WHERE slice IN :kinds").bindparams(
        sa.bindparam("kinds", expanding=True)), {"kinds": list(NEW_SLICES)})
