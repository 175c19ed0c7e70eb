"""`CaseEngine.audit`: the audit log for administrators (search, CSV export, the chain's state), the CLI
(`relief audit verify|prune`) and the deadline jobs' daily check; each call its own transactions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from engine import clock, db
from engine.access import scoping
from engine.access.principals import Principal
from engine.audit.chain import HEAD_ID, audit, read_head
from engine.audit.log import AuditFilter, audit_page, count_matching, csv_rows
from engine.audit.retention import prune_before
from engine.audit.verify import Verdict, verify_chain
from engine.errors import InvalidData
from engine.notify.outbox import queue_in_app
from engine.paging import DEFAULT_PER_PAGE, Page
from engine.settings import Settings
from engine.tables import AUDIT_HEAD, USERS

BROKEN_NOTICE = "audit_broken"  # the kind of the administrators' in-app notice


class AuditTrail:
    """The security audit log (审计日志, R-6.4.3) as pages, the CLI and the scheduler use it."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings, self.sessions = settings, sessions

    def page(self, principal: Principal, values: Mapping[str, Any], page: int = 1,
             per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
        """One page of the entries matching the filter's fields, newest first (administrators); `extra` has the
        chain's state (`chain`), the filter as given (`filters`) and, for a bad filter, its `errors` (no rows)."""
        scoping.require(principal, "audit")
        with db.transaction(self.sessions, read_only=True) as session:
            chain = chain_state(session.connection())
            try:
                wanted = AuditFilter.parse(values)
            except InvalidData as refused:
                return Page([], 0, extra={"chain": chain, "filters": {}, "errors": refused.errors})
            found = audit_page(session, wanted, page, per_page)
        found.extra.update(chain=chain, filters=wanted.as_dict(), errors={})
        return found

    def export(self, principal: Principal, values: Mapping[str, Any],
               translate: Callable[[str], str] = str) -> Iterator[str]:
        """The matching entries as CSV text (administrators), written out as read. The export is audited first
        (its filter and row count: every entry up to the head as it then stood), so an interrupted download
        is on record too; InvalidData for a bad filter."""
        scoping.require(principal, "audit")
        wanted = AuditFilter.parse(values)
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            head = read_head(conn)
            up_to = head.seq if head else 0
            rows = count_matching(conn, wanted, up_to)
            audit(session, principal.username, "audit_exported", clock.now(), None, filters=wanted.as_dict(),
                  rows=rows, up_to_seq=up_to)
        return self._csv(wanted, up_to, translate)

    def _csv(self, wanted: AuditFilter, up_to: int, translate: Callable[[str], str]) -> Iterator[str]:
        with db.transaction(self.sessions, read_only=True) as session:
            yield from csv_rows(session.connection(), wanted, up_to, translate)

    def verify(self, now: datetime | None = None, principal: Principal | None = None) -> Verdict:
        """Check the whole chain (in one snapshot) and keep the verdict on the head for the page; with a
        `principal` (the page's 立即校验) only an administrator may (None: an operator tool, the scheduler)."""
        if principal is not None:
            scoping.require(principal, "audit")
        with db.transaction(self.sessions, read_only=True, snapshot=True) as session:
            verdict = verify_chain(session.connection())
        with db.transaction(self.sessions) as session:
            session.execute(update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == HEAD_ID)
                            .values(verified_at=now or clock.now(), verdict=verdict.as_dict()))
        return verdict

    def prune(self, now: datetime | None = None, actor: str = "system",
              verdict: Verdict | None = None) -> dict[str, Any]:
        """Delete the entries older than the retention period from the chain's start (after a check, which
        `verdict` may be) → {"pruned", "anchor_seq", "retention_days"}; PruneRefused when they fail the check."""
        now = now or clock.now()
        checked = verdict or self.verify(now)
        days = self.settings.audit_retention_days
        with db.transaction(self.sessions) as session:
            done = prune_before(session, now - timedelta(days=days), checked, actor, now, days)
        return {**done, "retention_days": days}

    def daily_check(self, now: datetime) -> dict[str, Any] | None:
        """The deadline jobs' check, once a (Beijing) day: verify the chain; when it is broken tell every
        administrator (one notice each per problem), else prune. None when today's check already ran."""
        if not self._claim_day(now):
            return None
        verdict = self.verify(now)
        if verdict.problem is not None:
            told = self._tell_administrators(verdict, now)
            return {"ok": False, "problem": asdict(verdict.problem), "notices": told, "pruned": 0}
        pruned = self.prune(now, verdict=verdict)["pruned"]
        return {"ok": True, "checked": verdict.checked, "notices": 0, "pruned": pruned}

    def _claim_day(self, now: datetime) -> bool:
        """Mark today's check as taken (True), unless it was; a missing head is checked at every tick."""
        today = clock.aware(now).astimezone(clock.LOCAL_TZ).date()
        with db.transaction(self.sessions) as session:
            claimed = session.connection().execute(update(AUDIT_HEAD).where(
                AUDIT_HEAD.c.id == HEAD_ID, or_(AUDIT_HEAD.c.verified_on.is_(None), AUDIT_HEAD.c.verified_on < today))
                .values(verified_on=today)).rowcount
            return bool(claimed) or read_head(session.connection()) is None

    def _tell_administrators(self, verdict: Verdict, now: datetime) -> int:
        problem = verdict.problem
        assert problem is not None
        which = f"{problem.kind}:{problem.seq}:{problem.row_id}"
        with db.transaction(self.sessions) as session:
            conn = session.connection()
            names = conn.execute(select(USERS.c.username).where(scoping.administrators_clause())).scalars()
            return queue_in_app(conn, [{
                "case_no": "", "recipient": "staff", "channel": "in_app", "username": username, "kind": BROKEN_NOTICE,
                "content": f"【审计日志校验未通过】{problem.message}。请立即核查（系统管理 › 审计日志）",
                "details": {"problem": asdict(problem)}, "status": "pending", "created_at": now,
                "dedup_key": f"{BROKEN_NOTICE}:{hashlib.sha256(f'{which}:{username}'.encode()).hexdigest()}"}
                for username in sorted(names)])


def chain_state(conn: Connection) -> dict[str, Any]:
    """What the page shows of the chain: entries from the anchor to the head, the last check and its verdict."""
    row = conn.execute(select(AUDIT_HEAD.c.seq, AUDIT_HEAD.c.anchor_seq, AUDIT_HEAD.c.verified_at,
                              AUDIT_HEAD.c.verdict).where(AUDIT_HEAD.c.id == HEAD_ID)).first()
    if row is None:
        return {"first": None, "last": None, "verified_at": None, "verdict": None}
    return {"first": row.anchor_seq, "last": row.seq, "verified_at": row.verified_at, "verdict": row.verdict}
