"""好差评 (R-6.3.6): ratings of cases and window visits, and what each is about

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 23:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rating',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_no', sa.String(length=40), nullable=True),
        sa.Column('consultation_id', sa.Integer(), nullable=True),
        sa.Column('follow_up', sa.Boolean(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('level', sa.String(length=30), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('org_code', sa.String(length=60), nullable=True),
        sa.Column('clerk', sa.String(length=100), nullable=True),
        sa.Column('rectification_case_no', sa.String(length=40), nullable=True),
        sa.Column('rated_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultation.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_no', 'follow_up', name='uq_rating_case_follow_up'),
        sa.UniqueConstraint('consultation_id'),
    )
    op.create_index('ix_rating_created', 'rating', ['created_at'], unique=False)
    op.create_index('ix_rating_level', 'rating', ['level'], unique=False)
    op.create_index('ix_rating_month', 'rating', ['month'], unique=False)
    op.create_index('ix_rating_org_code', 'rating', ['org_code'], unique=False)
    op.create_index('ix_rating_clerk', 'rating', ['clerk'], unique=False)
    op.create_index('ix_rating_rectification_case_no', 'rating', ['rectification_case_no'], unique=False)
    op.create_table(
        'rating_subject',
        sa.Column('rating_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(['rating_id'], ['rating.id']),
        sa.PrimaryKeyConstraint('rating_id', 'kind', 'code'),
    )
    op.create_index('ix_rating_subject_code', 'rating_subject', ['kind', 'code'], unique=False)


def downgrade() -> None:
    op.drop_table('rating_subject')
    op.drop_table('rating')
