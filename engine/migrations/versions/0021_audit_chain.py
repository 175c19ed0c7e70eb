"""the tamper-evident audit log (R-6.4.3): each entry hash-chained to the one before, and the chain's head

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 09:00:00.000000

The entries on record are chained in id order (seq 1, 2, …) as engine.audit.chain chains new ones; the
head is left after the last of them. Downgrading drops the chain and keeps the entries.
"""
import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

GENESIS = '0' * 64
BATCH = 1000


def upgrade() -> None:
    op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('row_hash', sa.String(length=64), nullable=False),
        sa.Column('anchor_seq', sa.BigInteger(), nullable=False),
        sa.Column('anchor_hash', sa.String(length=64), nullable=False),
        sa.Column('verified_on', sa.Date(), nullable=True),
        sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('verdict', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    seq, last = _chain_existing_entries()
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index('ix_audit_log_seq', ['seq'], unique=True)
        batch_op.create_index('ix_audit_log_action', ['action'], unique=False)
    head = sa.table('audit_chain_head', sa.column('id'), sa.column('seq'), sa.column('row_hash'),
                    sa.column('anchor_seq'), sa.column('anchor_hash'))
    op.get_bind().execute(head.insert().values(id=1, seq=seq, row_hash=last, anchor_seq=1, anchor_hash=GENESIS))


def _row_hash(row: sa.Row, prev_hash: str) -> str:
    """engine.audit.chain.row_hash as of this revision: SHA-256 of the canonical JSON of the fields and prev_hash."""
    at = row.at.replace(tzinfo=UTC) if row.at.tzinfo is None else row.at.astimezone(UTC)
    fields = {'at': at.isoformat(timespec='microseconds'), 'actor': row.actor, 'action': row.action,
              'target': row.target, 'details': row.details, 'prev_hash': prev_hash}
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


def _chain_existing_entries() -> tuple[int, str]:
    """Number and hash the entries in id order; return the last seq and hash (0 and GENESIS for none)."""
    conn = op.get_bind()
    log = sa.table('audit_log', sa.column('id'), sa.column('at', sa.DateTime(timezone=True)), sa.column('actor'),
                   sa.column('action'), sa.column('target'), sa.column('details', sa.JSON()), sa.column('seq'),
                   sa.column('prev_hash'), sa.column('row_hash'))
    seq, prev, after = 0, GENESIS, 0
    while True:
        rows = conn.execute(sa.select(log.c.id, log.c.at, log.c.actor, log.c.action, log.c.target, log.c.details)
                            .where(log.c.id > after).order_by(log.c.id).limit(BATCH)).all()
        if not rows:
            return seq, prev
        values = []
        for row in rows:
            seq += 1
            digest = _row_hash(row, prev)
            values.append({'entry_id': row.id, 'seq': seq, 'prev_hash': prev, 'row_hash': digest})
            prev = digest
        conn.execute(log.update().where(log.c.id == sa.bindparam('entry_id'))
                     .values(seq=sa.bindparam('seq'), prev_hash=sa.bindparam('prev_hash'),
                             row_hash=sa.bindparam('row_hash')), values)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.drop_index('ix_audit_log_action')
        batch_op.drop_index('ix_audit_log_seq')
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('audit_chain_head')
