"""What operations asks of a running platform (issue 15): readiness and the figures of /metrics, from the database.

Readiness: the database answers, its schema is at the newest Alembic revision, and a scheduler holds the
deadline lease (`engine.deadlines.lease`) and renews it. The figures: open and overdue tasks (the due rule of
`engine.deadlines.due`), the outbox by channel and status, and the scheduler's lease row (holder, expiry,
ticks). The scheduler runs in a process of its own, so its facts are what its lease row records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from engine import db
from engine.cases.store import task_of_open_case
from engine.deadlines.due import overdue_clause
from engine.deadlines.scheduler import LEASE_NAME
from engine.schema import alembic_config
from engine.status import READY
from engine.tables import LEASE, NOTICE, TASK


@dataclass(frozen=True)
class LeaseState:
    """The scheduler lease's row as the database holds it; `fresh` while its holder keeps renewing it."""

    holder: str
    acquired_at: datetime
    expires_at: datetime
    ticks: int
    last_tick_at: datetime | None
    fresh: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        return {"holder": self.holder, "acquired_at": self.acquired_at.isoformat(),
                "expires_at": self.expires_at.isoformat(), "ticks": self.ticks, "fresh": self.fresh,
                "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None}


@dataclass(frozen=True)
class Figures:
    """What /metrics shows at a scrape."""

    open_tasks: int
    overdue_tasks: int
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status) → notices
    lease: LeaseState | None = None


@cache
def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) of the engine's migrations (read once: they do not change while running)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def lease_state(conn: Connection, now: datetime) -> LeaseState | None:
    """The scheduler lease's row, or None when no scheduler holds it (never started, or stopped cleanly)."""
    row = conn.execute(select(LEASE.c.holder, LEASE.c.acquired_at, LEASE.c.expires_at, LEASE.c.ticks,
                              LEASE.c.last_tick_at).where(LEASE.c.name == LEASE_NAME)).first()
    if row is None:
        return None
    # Expired only once `now` is past expires_at, as `lease.try_acquire` takes it.
    return LeaseState(row.holder, row.acquired_at, row.expires_at, int(row.ticks or 0), row.last_tick_at,
                      fresh=not row.expires_at < now)


class Operations:
    """Health, readiness and figures for the web app's /readyz and /metrics."""

    def __init__(self, sessions: db.SessionFactory):
        self.sessions = sessions

    def readiness(self, now: datetime) -> dict[str, Any]:
        """Whether the platform can do its work at `now`: `ready`, each check's facts and the `reasons` it is not."""
        reasons: list[str] = []
        checks: dict[str, Any] = {}
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                conn = session.connection()
                conn.execute(select(1))
                checks["database"] = {"ok": True, "dialect": conn.dialect.name}
                current = MigrationContext.configure(conn).get_current_heads()
                state = lease_state(conn, now)
        except SQLAlchemyError as error:
            checks["database"] = {"ok": False, "error": type(error).__name__}
            return {"ready": False, "reasons": ["database unreachable"], "checks": checks}
        heads = head_revisions()
        at_head = tuple(sorted(current)) == heads
        checks["migrations"] = {"ok": at_head, "current": list(current), "head": list(heads)}
        if not at_head:
            reasons.append("migrations not at head (run `relief init-db`)")
        # The lease is reported, never a reason: the scheduler is one process for the whole database, and a
        # balancer that took every app host out of rotation because it stopped would stop the county's work.
        # `relief_scheduler_lease_fresh` in /metrics is what an alert watches.
        warnings: list[str] = []
        checks["scheduler"] = {"ok": bool(state and state.fresh), "lease": state.as_dict() if state else None}
        if state is None:
            warnings.append("no scheduler holds the lease (start `relief scheduler run`)")
        elif not state.fresh:
            warnings.append(f"the scheduler lease of {state.holder} expired at {state.expires_at.isoformat()}")
        return {"ready": not reasons, "reasons": reasons, "warnings": warnings, "checks": checks}

    def figures(self, now: datetime) -> Figures:
        """Open and overdue tasks (of running cases), the outbox by channel and status, and the lease."""
        with db.transaction(self.sessions, read_only=True) as session:
            conn = session.connection()
            open_where = (TASK.c.state == READY, task_of_open_case())
            open_tasks = conn.execute(select(func.count()).select_from(TASK).where(*open_where)).scalar_one()
            overdue = conn.execute(select(func.count()).select_from(TASK)
                                   .where(*open_where, overdue_clause(now))).scalar_one()
            outbox = {(row.channel, row.status): int(row.n) for row in conn.execute(
                select(NOTICE.c.channel, NOTICE.c.status, func.count().label("n"))
                .group_by(NOTICE.c.channel, NOTICE.c.status))}
            return Figures(int(open_tasks), int(overdue), outbox, lease_state(conn, now))
