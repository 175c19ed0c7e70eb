"""投诉反馈 and 意见簿 (R-6.2.1, R-6.3.6): complaints worked as the process `complaint`, and the comment book

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'complaint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_no', sa.String(length=40), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('complaint_type', sa.String(length=40), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('anonymous', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=True),
        sa.Column('phone', sa.String(length=30), nullable=True),
        sa.Column('query_code_hash', sa.String(length=64), nullable=True),
        sa.Column('relief_case_no', sa.String(length=40), nullable=True),
        sa.Column('about_org', sa.String(length=60), nullable=True),
        sa.Column('about_user', sa.String(length=100), nullable=True),
        sa.Column('handler_org', sa.String(length=60), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('finding', sa.String(length=30), nullable=True),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('satisfaction', sa.String(length=30), nullable=True),
        sa.Column('registered_by', sa.String(length=100), nullable=False),
        sa.Column('registered_org', sa.String(length=60), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('complaint_no'),
    )
    op.create_index('ix_complaint_complaint_type', 'complaint', ['complaint_type'], unique=False)
    op.create_index('ix_complaint_relief_case_no', 'complaint', ['relief_case_no'], unique=False)
    op.create_index('ix_complaint_about_org', 'complaint', ['about_org'], unique=False)
    op.create_index('ix_complaint_about_user', 'complaint', ['about_user'], unique=False)
    op.create_index('ix_complaint_status', 'complaint', ['status'], unique=False)
    op.create_index('ix_complaint_month_handler', 'complaint', ['month', 'handler_org'], unique=False)
    op.create_table(
        'suggestion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('contact', sa.String(length=100), nullable=True),
        sa.Column('entered_by', sa.String(length=100), nullable=True),
        sa.Column('entered_org', sa.String(length=60), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_by', sa.String(length=100), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_suggestion_month', 'suggestion', ['month'], unique=False)
    op.create_index('ix_suggestion_public_answered', 'suggestion', ['public', 'answered_at'], unique=False)
    op.create_index('ix_suggestion_answered_created', 'suggestion', ['answered_at', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('suggestion')
    op.drop_table('complaint')
