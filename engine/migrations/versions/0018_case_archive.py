"""电子化归档 (R-6.1.2.2): the archive versions of ended cases, and each matter's 保管期限

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:00:00.000000

Cases that ended before this revision have no archive row; the archive jobs build only what is due.
Every matter starts with the default retention (30年) until the county sets its own.
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('matter', sa.Column('retention', sa.String(length=20), server_default='30y', nullable=False))
    op.create_table(
        'case_archive',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('archive_no', sa.String(length=80), nullable=True),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('matter', sa.String(length=40), nullable=True),
        sa.Column('sequence', sa.Integer(), nullable=True),
        sa.Column('retention', sa.String(length=20), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_by', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('path', sa.String(length=300), nullable=True),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_no', 'version', name='uq_case_archive_case_version'),
        sa.UniqueConstraint('archive_no', 'version', name='uq_case_archive_no_version'),
    )
    op.create_index('ix_case_archive_status_next', 'case_archive', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_case_archive_year_matter', 'case_archive', ['year', 'matter', 'sequence'], unique=False)


def downgrade() -> None:
    op.drop_table('case_archive')
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.drop_column('retention')
