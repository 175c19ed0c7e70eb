"""救助公示 (R-6.2.1): public notices of approved cases and the objections to them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'public_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('matter', sa.String(length=40), nullable=False),
        sa.Column('department', sa.String(length=40), nullable=False),
        sa.Column('masked_name', sa.String(length=100), nullable=False),
        sa.Column('township', sa.String(length=60), nullable=True),
        sa.Column('village', sa.String(length=60), nullable=True),
        sa.Column('household_size', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by', sa.String(length=100), nullable=True),
        sa.Column('withdrawn_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_public_notice_case_no', 'public_notice', ['case_no'], unique=False)
    op.create_index('ix_public_notice_status_ends', 'public_notice', ['status', 'ends_at'], unique=False)
    op.create_index('ix_public_notice_list', 'public_notice', ['status', 'township', 'village', 'published_at'],
                    unique=False)
    op.create_table(
        'notice_objection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('contact', sa.String(length=100), nullable=True),
        sa.Column('review_case_no', sa.String(length=40), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['notice_id'], ['public_notice.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_objection_notice_id', 'notice_objection', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_table('notice_objection')
    op.drop_table('public_notice')
