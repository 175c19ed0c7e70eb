"""现场评价器 (R-6.3.6): the window tablets that sign in with a device token, and the index their polling reads

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rating_device',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('org_code', sa.String(length=60), nullable=False),
        sa.Column('clerk', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['org_code'], ['organisation.code']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_rating_device_org_code', 'rating_device', ['org_code'], unique=False)
    op.create_index('ix_consultation_clerk_created', 'consultation', ['registered_by', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_consultation_clerk_created', table_name='consultation')
    op.drop_table('rating_device')
