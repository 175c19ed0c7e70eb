"""the case query (R-6.4.2): an index on the applications' registration time, the query's order and period

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 09:00:00.000000
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_application_created', 'application', ['created_at', 'case_no'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_application_created', table_name='application')
