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

The dashboard's backfill ran here until 0030 added the township slices and moved it there.
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
    pass  # no column changes; 0030 computes the tally with these slices


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM fact_tally WHERE slice IN :kinds").bindparams(
        sa.bindparam("kinds", expanding=True)), {"kinds": list(NEW_SLICES)})
