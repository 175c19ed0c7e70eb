"""The notification outbox: SMS to applicants, the 12345 回单 push, and staff in-app notices.

A row of an outside channel (sms, hotline) goes pending → sending → sent, or on a failure that
may pass → retrying (again after 1, 5, 30, 120 minutes) → … → failed after MAX_ATTEMPTS; a
failure that cannot pass fails at once. A sender claims one row at a time with a guarded UPDATE
in its own short transaction, so two senders (threads, processes or hosts) never both send a
row; the gateway is called outside any transaction and a second short transaction records the
outcome. While a row is sending, its next_attempt_at holds the end of the claim's lease: a row
still sending after that lost its sender and goes back to retrying. The one repeat that can
happen — a sender dying after the gateway took a message but before recording it — is why
gateways get the notification id to pass on as an idempotency key.

In-app notices need no gateway: stored is delivered; the bell and the notice list read them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine import clock, db
from engine.access import scoping
from engine.access.accounts import Principal, audit
from engine.i18n import _l
from engine.notify.gateways import Gateway, GatewayError, configured_gateways
from engine.paging import Page, paginate
from engine.settings import Settings
from engine.tables import APPLICATION, COMPLAINT, HOTLINE, NOTICE

log = logging.getLogger(__name__)

PENDING, SENDING, RETRYING, SENT, FAILED, DELIVERED = "pending", "sending", "retrying", "sent", "failed", "delivered"
IN_APP = "in_app"
OUTSIDE_CHANNELS = ("sms", "hotline")
MAX_ATTEMPTS = 5
# Wait after the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(minutes=120))
LEASE = timedelta(minutes=10)
ERROR_LIMIT = 500

CHANNEL_LABELS = {"sms": _l("短信"), "hotline": _l("12345回单"), IN_APP: _l("站内通知")}
STATUS_LABELS = {PENDING: _l("待发送"), SENDING: _l("发送中"), RETRYING: _l("等待重试"), SENT: _l("已发送"),
                 FAILED: _l("发送失败"), DELIVERED: _l("已送达")}
KIND_LABELS = {"overdue": _l("超期"), "due_soon": _l("临期提醒"), "result": _l("办理结果"),
               "received": _l("受理登记"), "refused": _l("不予救助"), "declined": _l("不予救助"),
               "dispatched": _l("派单"), "accepted": _l("受理告知"), "completed": _l("办结"),
               "supplement": _l("补正告知"), "supplement_overdue": _l("补正期限提醒"),
               "supplement_refused": _l("未补正不予受理"), "rectified": _l("差评整改结果"),
               "complaint_reply": _l("投诉答复"),
               "audit_broken": _l("审计日志校验未通过")}

_CLAIMED_COLUMNS = (NOTICE.c.id, NOTICE.c.case_no, NOTICE.c.recipient, NOTICE.c.channel, NOTICE.c.kind,
                    NOTICE.c.content, NOTICE.c.details, NOTICE.c.attempts)


def _due(now: datetime) -> Any:
    return or_(NOTICE.c.next_attempt_at.is_(None), NOTICE.c.next_attempt_at <= now)


def deliver_pending(sessions: db.SessionFactory, gateways: Mapping[str, Gateway], now: datetime,
                    limit: int = 100) -> dict[str, int]:
    """Send the due SMS and 12345 notices once each (retrying with backoff); mark in-app notices delivered.

    Only channels with a gateway in `gateways` are sent (`configured_gateways(settings)` in production).
    """
    report = {"sent": 0, "retrying": 0, "failed": 0, "claimed": 0}
    with db.transaction(sessions) as session:
        conn = session.connection()
        report["recovered"] = recover_stale(conn, now)
        report["in_app"] = mark_in_app_delivered(conn, now)
        due = conn.execute(
            select(NOTICE.c.id, NOTICE.c.attempts)
            .where(NOTICE.c.channel.in_([c for c in OUTSIDE_CHANNELS if c in gateways]),
                   NOTICE.c.status.in_((PENDING, RETRYING)), _due(now))
            .order_by(NOTICE.c.id).limit(limit)).all()
    started = time.monotonic()
    for notice_id, attempts in due:
        # The lease counts from when this row is claimed, not from the start of a long batch.
        lease_until = now + timedelta(seconds=time.monotonic() - started) + LEASE
        notice = _claim(sessions, notice_id, attempts, now, lease_until)
        if notice is None:
            continue  # another sender got there first
        report["claimed"] += 1
        outcome = _finish(sessions, notice, _attempt(gateways[notice["channel"]], notice), now)
        if outcome is not None:
            report[outcome] += 1
    return report


def recover_stale(conn: Connection, now: datetime) -> int:
    """Put rows whose sender died (still sending after the lease) back to retrying; return how many."""
    attempts = NOTICE.c.attempts + 1
    return conn.execute(
        update(NOTICE).where(NOTICE.c.status == SENDING, NOTICE.c.next_attempt_at <= now)
        .values(status=case((attempts >= MAX_ATTEMPTS, FAILED), else_=RETRYING), attempts=attempts,
                next_attempt_at=now, last_error="发送进程中断，未确认是否送达")).rowcount or 0


def queue_in_app(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert in-app notices, skipping any whose dedup_key exists; return how many were new."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (module.insert(NOTICE).on_conflict_do_nothing(index_elements=["dedup_key"])
                 .returning(NOTICE.c.id))
    # Count returned ids: PostgreSQL reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING.
    return sum(conn.execute(statement, dict(row)).scalar() is not None for row in rows)


def queue_hotline(conn: Connection, case_no: str, kind: str, content: str, details: Mapping[str, Any],
                  now: datetime) -> None:
    """Queue a message to 12345 about the case's work order (`details["order_no"]`): its 回单, or a complaint's
    reply (R-5.1.3)."""
    conn.execute(NOTICE.insert().values(case_no=case_no, recipient="hotline", channel="hotline", kind=kind,
                                        status=PENDING, content=content, details=dict(details), created_at=now))


def hotline_answered(conn: Connection, case_no: str) -> bool:
    """True when a message to 12345 is already queued for the case."""
    return conn.execute(select(NOTICE.c.id).where(NOTICE.c.case_no == case_no, NOTICE.c.recipient == "hotline")
                        .limit(1)).first() is not None


def recipient_phone(conn: Connection, case_no: str) -> str | None:
    """Where an SMS about `case_no` goes: the applicant's phone, or for a complaint (TS…) the complainant's."""
    phone = conn.execute(select(APPLICATION.c.phone).where(APPLICATION.c.case_no == case_no)).scalar()
    return phone or conn.execute(select(COMPLAINT.c.phone).where(COMPLAINT.c.complaint_no == case_no)).scalar()


def mark_in_app_delivered(conn: Connection, now: datetime) -> int:
    """Mark new in-app notices delivered (they are shown from the moment they are stored)."""
    return conn.execute(
        update(NOTICE).where(NOTICE.c.channel == IN_APP, NOTICE.c.status == PENDING)
        .values(status=DELIVERED, sent_at=now)).rowcount or 0


def _claim(sessions: db.SessionFactory, notice_id: int, attempts: int, now: datetime,
           lease_until: datetime) -> dict[str, Any] | None:
    """Take the row for this sender if it is still due and unchanged; add what its gateway needs."""
    with db.transaction(sessions) as session:
        conn = session.connection()
        row = conn.execute(
            update(NOTICE).where(NOTICE.c.id == notice_id, NOTICE.c.status.in_((PENDING, RETRYING)),
                                 NOTICE.c.attempts == attempts, _due(now))
            .values(status=SENDING, next_attempt_at=lease_until).returning(*_CLAIMED_COLUMNS)).first()
        if row is None:
            return None
        notice = dict(row._mapping)
        notice["details"] = dict(notice["details"] or {})
        if notice["channel"] == "sms":
            notice["phone"] = recipient_phone(conn, notice["case_no"])
        elif notice["channel"] == "hotline":
            notice["order_no"] = notice["details"].get("order_no") or conn.execute(
                select(HOTLINE.c.order_no).where(HOTLINE.c.case_no == notice["case_no"])).scalar()
    return notice


def _attempt(gateway: Gateway, notice: Mapping[str, Any]) -> GatewayError | None:
    try:
        gateway.send(notice)
    except GatewayError as err:
        return err
    except Exception as err:  # a plugged-in gateway may raise anything; it must not stop the batch
        return GatewayError(f"{type(err).__name__}: {err}")
    return None


def _finish(sessions: db.SessionFactory, notice: Mapping[str, Any], error: GatewayError | None,
            now: datetime) -> str | None:
    """Record the outcome of one attempt; return the new status, or None if the lease was lost."""
    attempts = notice["attempts"] + 1
    values: dict[str, Any] = {"attempts": attempts, "next_attempt_at": None}
    if error is None:
        values.update(status=SENT, sent_at=now)
    elif error.retryable and attempts < MAX_ATTEMPTS:
        values.update(status=RETRYING, next_attempt_at=now + BACKOFF[attempts - 1],
                      last_error=error.message[:ERROR_LIMIT])
    else:
        values.update(status=FAILED, last_error=error.message[:ERROR_LIMIT])
    if error is not None:
        log.warning("notification %s (%s, case %s) attempt %s: %s", notice["id"], notice["channel"],
                    notice["case_no"], attempts, error.message)
    with db.transaction(sessions) as session:
        done = session.connection().execute(update(NOTICE).where(
            NOTICE.c.id == notice["id"], NOTICE.c.status == SENDING, NOTICE.c.attempts == notice["attempts"])
            .values(values)).rowcount
    if not done:
        log.warning("notification %s: lease ran out during the attempt; another sender took it over", notice["id"])
        return None
    return str(values["status"])


def _in_app_of(username: str) -> Any:
    return and_(NOTICE.c.channel == IN_APP, NOTICE.c.username == username)


def unread_count(conn: Connection, username: str) -> int:
    """Number of the user's in-app notices not yet read (the bell)."""
    return int(conn.execute(select(func.count()).select_from(NOTICE).where(
        _in_app_of(username), NOTICE.c.read_at.is_(None))).scalar_one())


def list_for_user(conn: Connection, username: str, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
    """The user's in-app notices, newest first, one page of them."""
    query = (select(NOTICE.c.id, NOTICE.c.case_no, NOTICE.c.kind, NOTICE.c.content, NOTICE.c.details,
                    NOTICE.c.created_at, NOTICE.c.read_at)
             .where(_in_app_of(username)).order_by(NOTICE.c.created_at.desc(), NOTICE.c.id.desc()))
    return paginate(conn, query, page, per_page, lambda r: dict(r._mapping),
                    count=select(func.count()).select_from(NOTICE).where(_in_app_of(username)))


def mark_read(conn: Connection, username: str, ids: Iterable[int] | Literal["all"], now: datetime) -> int:
    """Mark the user's in-app notices `ids` (or all of them) read; return how many changed."""
    statement = update(NOTICE).where(_in_app_of(username), NOTICE.c.read_at.is_(None))
    if ids != "all":
        wanted = list(ids)
        if not wanted:
            return 0
        statement = statement.where(NOTICE.c.id.in_(wanted))
    return conn.execute(statement.values(read_at=now)).rowcount or 0


def failed_deliveries(conn: Connection, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
    """SMS and 12345 notices that failed or wait for a retry, failed first, newest first."""
    where = (NOTICE.c.channel.in_(OUTSIDE_CHANNELS), NOTICE.c.status.in_((FAILED, RETRYING)))
    query = (select(NOTICE.c.id, NOTICE.c.case_no, NOTICE.c.recipient, NOTICE.c.channel, NOTICE.c.kind,
                    NOTICE.c.content, NOTICE.c.details, NOTICE.c.status, NOTICE.c.attempts, NOTICE.c.last_error,
                    NOTICE.c.next_attempt_at, NOTICE.c.created_at)
             .where(*where).order_by(case((NOTICE.c.status == FAILED, 0), else_=1), NOTICE.c.id.desc()))
    return paginate(conn, query, page, per_page, lambda r: dict(r._mapping),
                    count=select(func.count()).select_from(NOTICE).where(*where))


def retry_failed(conn: Connection, notification_id: int, now: datetime) -> bool:
    """Send a failed (or waiting) SMS / 12345 notice again from the next run on, attempts reset."""
    return bool(conn.execute(
        update(NOTICE).where(NOTICE.c.id == notification_id, NOTICE.c.channel.in_(OUTSIDE_CHANNELS),
                             NOTICE.c.status.in_((FAILED, RETRYING)))
        .values(status=RETRYING, attempts=0, next_attempt_at=now)).rowcount)


class Outbox:
    """The outbox as pages and jobs use it (`CaseEngine.outbox`); each call one transaction."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings, self.sessions = settings, sessions

    def deliver(self, now: datetime, gateways: Mapping[str, Gateway] | None = None) -> dict[str, int]:
        """Send what is due through the configured gateways (see `deliver_pending`)."""
        chosen = configured_gateways(self.settings) if gateways is None else gateways
        return deliver_pending(self.sessions, chosen, now)

    def unread(self, username: str) -> int:
        """The bell: how many of the user's in-app notices are unread."""
        with db.transaction(self.sessions) as session:
            return unread_count(session.connection(), username)

    def notices(self, username: str, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """One page of the user's in-app notices; `extra["unread"]` is the unread count."""
        with db.transaction(self.sessions) as session:
            found = list_for_user(session.connection(), username, page, per_page)
            found.extra["unread"] = unread_count(session.connection(), username)
        for row in found.items:
            row["kind_label"] = KIND_LABELS.get(row["kind"], row["kind"])
        return found

    def mark_read(self, username: str, ids: Iterable[int] | Literal["all"]) -> int:
        """Mark the user's notices `ids` (or all) read; return how many changed."""
        with db.transaction(self.sessions) as session:
            return mark_read(session.connection(), username, ids, clock.now())

    def failed(self, principal: Principal, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """SMS and 12345 deliveries that failed or wait for a retry (administrators)."""
        scoping.require(principal, "deliveries")
        with db.transaction(self.sessions) as session:
            found = failed_deliveries(session.connection(), page, per_page)
        for row in found.items:
            row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
            row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
            row["kind_label"] = KIND_LABELS.get(row["kind"], row["kind"])
        return found

    def retry(self, principal: Principal, notification_id: int) -> bool:
        """Send a failed notice again from the sender's next run (attempts start over); audited."""
        scoping.require(principal, "deliveries")
        with db.transaction(self.sessions) as session:
            requeued = retry_failed(session.connection(), notification_id, clock.now())
            if requeued:
                audit(session, principal.username, "notification_retry", clock.now(), target=str(notification_id))
            return requeued
