"""The tally's slices of a township and matters, and of a township and a channel

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 13:30:00.000000

`township_matters` holds a case by its township and its matters together, `township_channel` by its township
and its channel: a township asked for with a matter (or 救助类型) or with a channel is read from the tally —
and so a township's own staff asking for a matter or a channel (their scope narrowed to the township).
No column changes.

The dashboard's backfill runs here, at the newest shape of its tables (0025–0029 only create or fill
columns, or name slices): a database without every case's fact rows gets them and the tally
(`facts.rebuild_all`), any other the tally of its fact rows (`facts.rebuild_tally`). A later migration that
changes these tables moves it.
Downgrading deletes the new slices' rows (the release before never reads them).
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

NEW_SLICES = ("township_matters", "township_channel")


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
