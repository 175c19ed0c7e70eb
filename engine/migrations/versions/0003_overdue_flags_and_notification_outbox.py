"""overdue flags and notification outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:23:35.703962
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='sms', nullable=False))
        batch_op.add_column(sa.Column('username', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('dedup_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notification_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_username'), ['username'], unique=False)
        batch_op.create_unique_constraint('uq_notification_dedup_key', ['dedup_key'])


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint('uq_notification_dedup_key', type_='unique')
        batch_op.drop_index(batch_op.f('ix_notification_username'))
        batch_op.drop_index(batch_op.f('ix_notification_next_attempt_at'))
        batch_op.drop_column('last_error')
        batch_op.drop_column('read_at')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('dedup_key')
        batch_op.drop_column('username')
        batch_op.drop_column('channel')

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('overdue_since')

