"""the inbox index: one row per (viewer key, open task of an open case), filed from the task rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:30:00.000000
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

UNDATED = datetime(9999, 12, 31, tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        'inbox_entry',
        sa.Column('viewer', sa.String(length=110), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('case_no', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('green_rank', sa.Integer(), nullable=False),
        sa.Column('due_key', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('township', sa.String(length=60), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('matters', sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint('viewer', 'task_id'),
    )
    indexes = {'ix_inbox_entry_priority': ['viewer', 'green_rank', 'due_key', 'created_at', 'task_id', 'township',
                                           'channel', 'matters', 'name'],
               'ix_inbox_entry_township': ['viewer', 'township', 'green_rank', 'due_key', 'created_at', 'task_id'],
               'ix_inbox_entry_due': ['viewer', 'due_key', 'created_at', 'task_id'],
               'ix_inbox_entry_created': ['viewer', 'created_at', 'task_id'],
               'ix_inbox_entry_name': ['viewer', 'name', 'due_key', 'task_id'],
               'ix_inbox_entry_task': ['task_id'],
               'ix_inbox_entry_case': ['case_no', 'viewer']}
    for name, columns in indexes.items():
        op.create_index(name, 'inbox_entry', columns, unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # Every task is filed and unfiled again within days: vacuum after 1 % of the rows changed (the
        # default waits for 20 %), so the space of the unfiled entries is reused instead of growing.
        op.execute('ALTER TABLE inbox_entry SET (autovacuum_vacuum_scale_factor = 0.01, '
                   'autovacuum_analyze_scale_factor = 0.02)')
    _file_open_tasks()


def _file_open_tasks() -> None:
    """File the open tasks of open cases as the engine does (engine.cases.inbox_index.entries)."""
    conn = op.get_bind()
    task = sa.table('human_task', sa.column('id'), sa.column('instance_id'), sa.column('case_no'),
                    sa.column('name'), sa.column('candidate_groups', sa.JSON()), sa.column('assignee'),
                    sa.column('state'), sa.column('due_at', sa.DateTime(timezone=True)),
                    sa.column('created_at', sa.DateTime(timezone=True)))
    instance = sa.table('process_instance', sa.column('id'), sa.column('status'))
    application = sa.table('application', sa.column('case_no'), sa.column('township'), sa.column('channel'),
                           sa.column('green_channel'), sa.column('matters', sa.JSON()))
    entry = sa.table('inbox_entry', *(sa.column(c) for c in (
        'viewer', 'task_id', 'instance_id', 'case_no', 'name', 'green_rank', 'township', 'channel', 'matters')),
        sa.column('due_key', sa.DateTime(timezone=True)), sa.column('created_at', sa.DateTime(timezone=True)))
    rows = conn.execute(
        sa.select(task.c.id, task.c.instance_id, task.c.case_no, task.c.name, task.c.candidate_groups,
                  task.c.assignee, task.c.due_at, task.c.created_at, application.c.township, application.c.channel,
                  application.c.green_channel, application.c.matters)
        .select_from(task.join(instance, instance.c.id == task.c.instance_id)
                     .outerjoin(application, application.c.case_no == task.c.case_no))
        .where(task.c.state == 'READY', instance.c.status == 'open')).all()
    values: list[dict[str, object]] = []
    for r in rows:
        codes = [str(m) for m in (r.matters or []) if m not in (None, '')]
        common = {'task_id': r.id, 'instance_id': r.instance_id, 'case_no': r.case_no, 'name': r.name,
                  'green_rank': 0 if r.green_channel else 1, 'due_key': r.due_at or UNDATED,
                  'created_at': r.created_at, 'township': r.township, 'channel': r.channel,
                  'matters': f"|{'|'.join(codes)}|"[:500] if codes else ''}
        keys = ['*', *(r.candidate_groups or []), *([f'assignee:{r.assignee}'] if r.assignee else [])]
        values.extend({'viewer': key, **common} for key in dict.fromkeys(keys))
    for start in range(0, len(values), 5000):
        conn.execute(entry.insert(), values[start:start + 5000])


def downgrade() -> None:
    op.drop_table('inbox_entry')
