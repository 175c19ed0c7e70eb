"""the service windows' address, opening hours and phone on the organisation (办事大厅 R-6.2.1)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 10:00:00.000000

Organisations on record before this revision have no details yet ('': 暂未公布 on the portal).
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD / DROP COLUMN in place (no batch copy: other tables' foreign keys point at organisation)
    op.add_column('organisation', sa.Column('address', sa.String(length=200), server_default='', nullable=False))
    op.add_column('organisation', sa.Column('hours', sa.String(length=200), server_default='', nullable=False))
    op.add_column('organisation', sa.Column('phone', sa.String(length=40), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('organisation', 'phone')
    op.drop_column('organisation', 'hours')
    op.drop_column('organisation', 'address')
