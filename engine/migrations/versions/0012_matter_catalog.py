"""the matter catalog (事项清单 R-6.1.3.1) with review standards and revisions; 待补正 on instances (R-6.2.2)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'matter',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('department', sa.String(length=40), nullable=False),
        sa.Column('assistance_type', sa.String(length=40), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('procedure', sa.Text(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('materials', sa.JSON(), nullable=False),
        sa.Column('basis', sa.Text(), nullable=False),
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('due_workdays', sa.Integer(), nullable=True),
        sa.Column('place', sa.Text(), nullable=False),
        sa.Column('noticed', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'matter_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code', 'revision', name='uq_matter_revision_code_revision'),
    )


    # ADD COLUMN in place (no batch copy: other tables' foreign keys point at process_instance)
    op.add_column('process_instance', sa.Column('supplement_since', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_process_instance_supplement_since', 'process_instance', ['supplement_since'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_process_instance_supplement_since', table_name='process_instance')
    op.drop_column('process_instance', 'supplement_since')
    op.drop_table('matter_revision')
    op.drop_table('matter')
