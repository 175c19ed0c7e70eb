"""a case that ended keeps its workflow state compressed (state_archive); human_task loses the indexes the
inbox index replaced; on PostgreSQL the state is kept in the row when it fits, and autovacuum reclaims the
copies each step leaves sooner

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00.000000
"""
import zlib

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

FINAL = ('closed_completed', 'closed_declined', 'terminated')
REPLACED = {'ix_human_task_assignee': ['assignee'], 'ix_human_task_state': ['state'],
            'ix_human_task_due_at': ['due_at']}


def upgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state_archive', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
    if op.get_bind().dialect.name == 'postgresql':
        # MAIN: compressed in the row when it fits a page, so the copy a step leaves behind is pruned with
        # the page instead of waiting in TOAST for a vacuum; and vacuum sooner than the 20 % default.
        op.execute('ALTER TABLE process_instance ALTER COLUMN state SET STORAGE MAIN')
        op.execute('ALTER TABLE process_instance ALTER COLUMN state_archive SET STORAGE MAIN')
        op.execute('ALTER TABLE process_instance SET (autovacuum_vacuum_scale_factor = 0.02, '
                   'toast.autovacuum_vacuum_scale_factor = 0.02)')
    _archive_ended_cases()


def _archive_ended_cases() -> None:
    conn = op.get_bind()
    instance = sa.table('process_instance', sa.column('id'), sa.column('status'), sa.column('state'),
                        sa.column('state_archive', sa.LargeBinary()))
    while True:
        rows = conn.execute(sa.select(instance.c.id, instance.c.state).where(
            instance.c.status.in_(FINAL), instance.c.state != '').limit(500)).all()
        if not rows:
            return
        for row in rows:
            conn.execute(instance.update().where(instance.c.id == row.id).values(
                state='', state_archive=zlib.compress(row.state.encode(), 9)))


def downgrade() -> None:
    conn = op.get_bind()
    instance = sa.table('process_instance', sa.column('id'), sa.column('state'),
                        sa.column('state_archive', sa.LargeBinary()))
    for row in conn.execute(sa.select(instance.c.id, instance.c.state_archive).where(
            instance.c.state_archive.is_not(None))).all():
        conn.execute(instance.update().where(instance.c.id == row.id).values(
            state=zlib.decompress(row.state_archive).decode()))
    if conn.dialect.name == 'postgresql':
        op.execute('ALTER TABLE process_instance ALTER COLUMN state SET STORAGE EXTENDED')
        op.execute('ALTER TABLE process_instance RESET (autovacuum_vacuum_scale_factor, '
                   'toast.autovacuum_vacuum_scale_factor)')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        for name, columns in REPLACED.items():
            batch_op.create_index(name, columns, unique=False)
    # Not in batch mode: SQLite (3.35+) drops a column in place; copying the table would trip the tasks'
    # foreign keys.
    op.execute('ALTER TABLE process_instance DROP COLUMN state_archive')
