"""A named lease in the database: at most one holder at a time, lost when the holder stops renewing.

Several scheduler processes (gunicorn workers, several hosts on one PostgreSQL database) each try
to take the lease before running the jobs; only the holder runs them. Taking and renewing is one
guarded UPDATE (and, the very first time, one INSERT … ON CONFLICT DO NOTHING) whose row count
says who won, so the database decides the race: PostgreSQL re-checks the WHERE clause against the
row a concurrent winner committed, and SQLite serializes writers with BEGIN IMMEDIATE. A holder
that dies stops renewing and the lease is free once `expires_at` has passed.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from engine import db
from engine.models import UTCDateTime
from engine.tables import LEASE


def holder_id() -> str:
    """Return a holder id unique to this process: hostname:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def try_acquire(sessions: db.SessionFactory, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take the lease `name` if it is free or expired, or renew it if `holder` has it; say whether it is ours.

    The lease then lasts until `now + ttl`; it counts as expired only once `now` is past that.
    """
    expires_at = now + ttl
    with db.transaction(sessions) as session:
        conn = session.connection()
        renewed_or_taken = conn.execute(
            update(LEASE)
            .where(LEASE.c.name == name, or_(LEASE.c.holder == holder, LEASE.c.expires_at < now))
            # A renewal keeps the moment the holder first took the lease.
            .values(acquired_at=case((LEASE.c.holder == holder, LEASE.c.acquired_at),
                                     else_=literal(now, UTCDateTime())),
                    holder=holder, expires_at=expires_at))
        if renewed_or_taken.rowcount:
            return True
        # The first time there is no row yet. RETURNING, not rowcount: SQLAlchemy reports no row
        # count for an INSERT on PostgreSQL, and DO NOTHING returns no row when another got in first.
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        inserted = conn.execute(
            dialect.insert(LEASE).on_conflict_do_nothing(index_elements=["name"]).returning(LEASE.c.name),
            {"name": name, "holder": holder, "acquired_at": now, "expires_at": expires_at})
        return inserted.first() is not None


def release(sessions: db.SessionFactory, name: str, holder: str) -> bool:
    """Give up the lease `name` if `holder` has it, so another process may take it at once."""
    with db.transaction(sessions) as session:
        result = session.connection().execute(delete(LEASE).where(LEASE.c.name == name, LEASE.c.holder == holder))
        return bool(result.rowcount)


def record_tick(sessions: db.SessionFactory, name: str, holder: str, at: datetime) -> bool:
    """Count a tick the holder of the lease `name` ran, ended at `at`; False when `holder` no longer has it."""
    with db.transaction(sessions) as session:
        result = session.connection().execute(
            update(LEASE).where(LEASE.c.name == name, LEASE.c.holder == holder)
            .values(ticks=LEASE.c.ticks + 1, last_tick_at=at))
        return bool(result.rowcount)
