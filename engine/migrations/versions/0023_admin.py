"""administration in the UI (R-6.1.4): organisations deactivated, the matters each window takes, users'
last sign-in, disabling and forced password change, API tokens' name, issuer and expiry

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 09:00:00.000000

Everything on record stays as it was: organisations active, users not asked to change their password,
tokens without a name and without expiry; no window lists matters until an administrator picks them.
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD / DROP COLUMN in place (no batch copy: other tables' foreign keys point at these tables)
    op.add_column('organisation', sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        'org_matter',
        sa.Column('org_code', sa.String(length=60), nullable=False),
        sa.Column('matter_code', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['org_code'], ['organisation.code'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['matter_code'], ['matter.code'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_code', 'matter_code'),
    )
    op.create_index('ix_org_matter_matter_code', 'org_matter', ['matter_code'], unique=False)
    op.add_column('app_user', sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('app_user', sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('app_user', sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))
    op.add_column('api_token', sa.Column('name', sa.String(length=100), server_default='', nullable=False))
    op.add_column('api_token', sa.Column('created_by', sa.String(length=100), server_default='', nullable=False))
    op.add_column('api_token', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('api_token', 'expires_at')
    op.drop_column('api_token', 'created_by')
    op.drop_column('api_token', 'name')
    op.drop_column('app_user', 'must_change_password')
    op.drop_column('app_user', 'last_login_at')
    op.drop_column('app_user', 'disabled_at')
    op.drop_index('ix_org_matter_matter_code', table_name='org_matter')
    op.drop_table('org_matter')
    op.drop_column('organisation', 'active')
