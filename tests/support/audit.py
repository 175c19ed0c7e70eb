"""The audit log as an attacker with database access sees it: raw SQL, no engine in between."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from engine.audit.chain import row_hash
from engine.tables import AUDIT, AUDIT_HEAD
from tests.support.db import tx


def raw(database_url: str, *statements: str, **params: Any) -> None:
    """Run SQL statements in one transaction, as `psql` or `sqlite3` would."""
    with tx(database_url) as session:
        for statement in statements:
            session.execute(text(statement), params)


def entries(database_url: str) -> list[dict[str, Any]]:
    """Every audit entry in seq order, as stored (the columns' values as the engine reads them)."""
    with tx(database_url) as session:
        return [dict(row._mapping) for row in session.execute(select(*AUDIT.c).order_by(AUDIT.c.seq, AUDIT.c.id))]


def head(database_url: str) -> dict[str, Any]:
    """The chain's head row."""
    with tx(database_url) as session:
        return dict(session.execute(select(*AUDIT_HEAD.c)).one()._mapping)


def forge_after_last(database_url: str, copy_of: int, move_head: bool = False) -> int:
    """Insert a copy of entry `copy_of` after the last one, hashed as the engine would (an attacker who
    knows the algorithm), optionally moving the head too; return its seq."""
    last = entries(database_url)[-1]
    copied = next(e for e in entries(database_url) if e["seq"] == copy_of)
    seq, digest = last["seq"] + 1, row_hash(copied, last["row_hash"])
    statements = ["INSERT INTO audit_log (at, actor, action, target, details, seq, prev_hash, row_hash)"
                  " SELECT at, actor, action, target, details, :seq, :prev, :digest FROM audit_log WHERE seq = :copy"]
    if move_head:
        statements.append("UPDATE audit_chain_head SET seq = :seq, row_hash = :digest")
    raw(database_url, *statements, seq=seq, prev=last["row_hash"], digest=digest, copy=copy_of)
    return seq
