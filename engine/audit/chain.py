"""Writing the audit log as a hash chain: `audit` is the one place that appends to it.

Each entry's `row_hash` is SHA-256 over a canonical JSON of its fields (at, actor, action, target, details)
and the `prev_hash` it follows; `seq` numbers the entries 1, 2, 3, … in the order they were committed.
The chain's head (`audit_chain_head`, one row) holds the last seq and hash. Entries are queued on the
session and chained when its transaction commits (SQLAlchemy's before_commit): the head is locked there —
PostgreSQL `SELECT … FOR UPDATE`, SQLite the write lock every write transaction already holds — so two
transactions auditing at once queue for it and never fork the chain, and since it is the last lock a
transaction takes, for as short as it can be, it cannot deadlock with the instance locks of a step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from engine import clock, db, logs
from engine.tables import AUDIT, AUDIT_HEAD

HEAD_ID = 1
GENESIS = "0" * 64  # the prev_hash of the first entry ever written
_PENDING = "audit_pending"  # session.info: (the transaction, its queued entries)
_LISTENING = "audit_listening"
log = logging.getLogger(__name__)


class Head(NamedTuple):
    """Where the chain stands: the last entry (seq, row_hash) and the anchor it starts from."""

    seq: int
    row_hash: str
    anchor_seq: int
    anchor_hash: str


def audit(session: Session, actor: str, action: str, at: datetime, target: str | None = None,
          **details: Any) -> None:
    """Append an entry to the security audit log (chained to the one before it when the transaction commits)."""
    transaction = session.get_transaction() or session.begin()
    # As the database will hand the details back (lists, string keys), so the hash is of what is stored.
    entry = {"at": clock.aware(at), "actor": actor, "action": action, "target": target,
             "details": json.loads(db.json_text(details))}
    pending: tuple[SessionTransaction, list[dict[str, Any]]] | None = session.info.get(_PENDING)
    if pending is None or pending[0] is not transaction:
        pending = session.info[_PENDING] = (transaction, [])
    pending[1].append(entry)
    if not session.info.get(_LISTENING):
        event.listen(session, "before_commit", _chain_pending)
        session.info[_LISTENING] = True


def row_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields and the hash it follows."""
    fields = {"at": clock.aware(entry["at"]).isoformat(timespec="microseconds"), "actor": entry["actor"],
              "action": entry["action"], "target": entry["target"], "details": entry["details"],
              "prev_hash": prev_hash}
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _chain_pending(session: Session) -> None:
    """before_commit: number, hash and insert the entries this transaction queued, and move the head."""
    if session.in_nested_transaction():
        return  # a savepoint: the entries go with the outer transaction
    pending: tuple[SessionTransaction, list[dict[str, Any]]] | None = session.info.pop(_PENDING, None)
    if pending is None or pending[0] is not session.get_transaction():
        return  # nothing queued, or queued by a transaction that rolled back
    conn = session.connection()
    head = locked_head(conn)
    seq, prev, rows = head.seq, head.row_hash, []
    for entry in pending[1]:
        seq += 1
        digest = row_hash(entry, prev)
        rows.append({**entry, "seq": seq, "prev_hash": prev, "row_hash": digest})
        prev = digest
    conn.execute(insert(AUDIT), rows)
    for row in rows:  # the action and whom it concerns; never the details (a reason may name a person)
        logs.engine_action("audit", row["action"], row["actor"], row["target"], seq=row["seq"])
    conn.execute(update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == HEAD_ID).values(seq=seq, row_hash=prev))


_HEAD_COLUMNS = (AUDIT_HEAD.c.seq, AUDIT_HEAD.c.row_hash, AUDIT_HEAD.c.anchor_seq, AUDIT_HEAD.c.anchor_hash)


def read_head(conn: Connection) -> Head | None:
    """The chain's head as committed (None: there is none)."""
    row = conn.execute(select(*_HEAD_COLUMNS).where(AUDIT_HEAD.c.id == HEAD_ID)).first()
    return Head(*row) if row is not None else None


def locked_head(conn: Connection) -> Head:
    """The chain's head, locked to the end of the transaction; made when missing (a new database)."""
    query = select(*_HEAD_COLUMNS).where(AUDIT_HEAD.c.id == HEAD_ID).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        # Two first writers at once: the second waits for the first's row, then takes it.
        conn.execute(dialect.insert(AUDIT_HEAD).values(id=HEAD_ID, **_head_from_log(conn)._asdict())
                     .on_conflict_do_nothing(index_elements=["id"]))
        row = conn.execute(query).first()
    assert row is not None
    return Head(*row)


def _head_from_log(conn: Connection) -> Head:
    """A head for the log as it stands: at the start for an empty log; else after its last entry, anchored at
    its first (the head row was deleted: what it vouched for cannot be checked any more)."""
    last = conn.execute(select(AUDIT.c.seq, AUDIT.c.row_hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
    if last is None:
        return Head(0, GENESIS, 1, GENESIS)
    first = conn.execute(select(AUDIT.c.seq, AUDIT.c.prev_hash).order_by(AUDIT.c.seq).limit(1)).one()
    log.warning("audit_chain_head was missing; rebuilt from the log (entries %s to %s)", first.seq, last.seq)
    return Head(last.seq, last.row_hash, first.seq, first.prev_hash)
