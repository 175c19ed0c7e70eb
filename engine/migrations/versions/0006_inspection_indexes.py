"""instance inspection and heat view indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 19:10:00.000000
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_state_completed', ['state', 'completed_at'], unique=False)
        batch_op.create_index('ix_human_task_state_instance_spec', ['state', 'instance_id', 'task_spec'],
                              unique=False)

    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_started', ['started_at', 'id'], unique=False)
        batch_op.create_index('ix_process_instance_status_started', ['status', 'started_at', 'id'], unique=False)
        batch_op.create_index('ix_process_instance_definition_case', ['definition_id', 'case_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_definition_case')
        batch_op.drop_index('ix_process_instance_status_started')
        batch_op.drop_index('ix_process_instance_started')

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_state_instance_spec')
        batch_op.drop_index('ix_human_task_state_completed')
