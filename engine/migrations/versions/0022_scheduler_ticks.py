"""scheduler ticks on the lease row: how many deadline ticks its holders ran, and when the last one ended

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 05:00:00.000000

The scheduler is a process of its own; the web app's /metrics and /readyz read these from the database.
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scheduler_lease') as batch:
        batch.add_column(sa.Column('ticks', sa.BigInteger(), server_default='0', nullable=False))
        batch.add_column(sa.Column('last_tick_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scheduler_lease') as batch:
        batch.drop_column('last_tick_at')
        batch.drop_column('ticks')
