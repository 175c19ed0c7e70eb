"""补正后待审 in the inbox index: a task back with the applicant's supplement (R-6.2.2)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:10:00.000000

Open tasks filed before this revision count as not supplemented (the supplement is new with 0012);
`relief inbox rebuild` files every open task again from its row.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbox_entry', sa.Column('supplemented', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('inbox_entry', schema=None) as batch_op:
        batch_op.drop_column('supplemented')
