"""decision tables beside processes, and what a version calls pinned at deploy

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='bpmn', nullable=False))
        batch_op.add_column(sa.Column('depends_on', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_column('depends_on')
        batch_op.drop_column('kind')
