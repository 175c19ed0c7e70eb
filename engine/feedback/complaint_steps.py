"""What the complaint process records of its steps (投诉反馈, R-6.2.1, R-6.3.6) through the BPMN helper
`complaint_step(step, **details)`, written with the step's transaction:

- `assigned` (handler=…): the organisation that handles it (承办单位); the complaint is being handled;
- `replied` (finding=…, reply=…): the result and the reply, which goes to the complainant — back to 12345
  through the outbox's hotline channel for a work order, by SMS to a complainant who left a phone, and
  to nobody for an anonymous one (who reads it on the portal with the number and query code);
- `rated` (satisfaction=…): what the complainant said at the callback (满意度回访);
- `reopened`: sent back to be handled again (重办) after an unsatisfied callback;
- `closed`: the complaint is over.

A process without a complaint row (started by key for a try) records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import status
from engine.cases import store
from engine.cases.tasks import record
from engine.notify.notices import Notices
from engine.notify.outbox import queue_hotline
from engine.tables import COMPLAINT

COMPLAINT_STEPS = ("assigned", "replied", "rated", "reopened", "closed")
REPLY_NOTICE = "complaint_reply"
MAX_REPLY = 2000
# How the reply reached the complainant (the complaint's history says which).
REPLIED_BY_HOTLINE, REPLIED_BY_SMS, REPLIED_ON_PORTAL = "hotline", "sms", "portal"

Notice = tuple[str, dict[str, Any]]


def _text(details: Mapping[str, Any], key: str, limit: int = MAX_REPLY) -> str | None:
    value = details.get(key)
    return str(value)[:limit] if value not in (None, "") else None


def record_complaint_step(session: Session, case_no: str, step: str, details: Mapping[str, Any], now: datetime,
                          notices: Notices) -> list[Notice]:
    """Record one step of the complaint worked as `case_no`; return the SMS to queue to the complainant."""
    conn = session.connection()
    row = conn.execute(select(COMPLAINT.c.id, COMPLAINT.c.channel, COMPLAINT.c.anonymous, COMPLAINT.c.phone)
                       .where(COMPLAINT.c.complaint_no == case_no)).first()
    if row is None:
        return []
    values, answer = _STEPS[step](details, now)
    conn.execute(update(COMPLAINT).where(COMPLAINT.c.id == row.id).values(values))
    if step == "assigned":
        record(session, case_no, "complaint_assigned", "system", now, data={"handler": values.get("handler_org")})
    if answer is None:
        return []
    return _reply(session, case_no, row, answer, now, notices)


def _assigned(details: Mapping[str, Any], _now: datetime) -> tuple[dict[str, Any], str | None]:
    handler = _text(details, "handler", 60)
    return {"status": status.COMPLAINT_HANDLING, **({"handler_org": handler} if handler else {})}, None


def _replied(details: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], str | None]:
    reply = _text(details, "reply") or ""
    return {"status": status.COMPLAINT_REPLIED, "finding": _text(details, "finding", 30), "reply": reply,
            "replied_at": now}, reply


def _rated(details: Mapping[str, Any], _now: datetime) -> tuple[dict[str, Any], str | None]:
    return {"satisfaction": _text(details, "satisfaction", 30)}, None


def _reopened(_details: Mapping[str, Any], _now: datetime) -> tuple[dict[str, Any], str | None]:
    return {"status": status.COMPLAINT_HANDLING}, None


def _closed(_details: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], str | None]:
    return {"status": status.COMPLAINT_CLOSED, "closed_at": now}, None


_STEPS: dict[str, Callable[[Mapping[str, Any], datetime], tuple[dict[str, Any], str | None]]] = {
    "assigned": _assigned, "replied": _replied, "rated": _rated, "reopened": _reopened, "closed": _closed}


def _reply(session: Session, case_no: str, row: Any, reply: str, now: datetime, notices: Notices) -> list[Notice]:
    """Send the reply the one way that reaches this complainant, and say in the history which it was."""
    conn = session.connection()
    details = {"reply": reply}
    order_no = store.hotline_order_of(conn, case_no) if row.channel == "hotline" else None
    if order_no is not None:
        queue_hotline(conn, case_no, REPLY_NOTICE, notices.for_case(case_no, REPLY_NOTICE, details),
                      {"order_no": order_no}, now)
        record(session, case_no, "hotline_result_queued", "system", now, data={"order_no": order_no})
        via = REPLIED_BY_HOTLINE
    elif not row.anonymous and row.phone:
        via = REPLIED_BY_SMS
    else:
        via = REPLIED_ON_PORTAL
    record(session, case_no, "complaint_replied", "system", now, data={"via": via, "reply": reply})
    return [(REPLY_NOTICE, details)] if via == REPLIED_BY_SMS else []

