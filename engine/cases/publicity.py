"""救助公示 (R-6.2.1; GB/T 37973): approved cases of noticed matters are published for a notice period.

The flow publishes with the BPMN helper `publish_notice(department, amount=…, household_size=…, days=7)`
(a script step after a department's 办结反馈): for each matter of the case that the catalog marks as
noticed and that this department implements, one entry with only what eligibility needs — the masked
name (张*), the village, the matter, household size and amount; never ID number, phone or address.
During the period anyone may object (异议) from the portal: the objection is worked as the process
`notice_objection` (a task for the center) and noted in the case's history. The deadline jobs end
entries whose period is over; an administrator may withdraw one with a reason (audited).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select, update

from engine import clock
from engine.access import personal_data, scoping
from engine.access.accounts import Principal, audit
from engine.cases import labels, store
from engine.cases.tasks import record
from engine.errors import InvalidData, NotDeployed, NotFound, TaskConflict
from engine.i18n import _l
from engine.paging import Page, paginate
from engine.reference import ReferenceData
from engine.tables import APPLICATION, OBJECTION, PUBLIC_NOTICE

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

ACTIVE, ENDED, WITHDRAWN = "active", "ended", "withdrawn"
STATUS_LABELS = {ACTIVE: _l("公示中"), ENDED: _l("公示期满"), WITHDRAWN: _l("已撤回")}
DEFAULT_DAYS = 7
MAX_DAYS = 60
OBJECTION_PROCESS = "notice_objection"
MAX_OBJECTION, MAX_CONTACT, MAX_REASON = 1000, 100, 500
PUBLIC_COLUMNS = (PUBLIC_NOTICE.c.id, PUBLIC_NOTICE.c.matter, PUBLIC_NOTICE.c.masked_name, PUBLIC_NOTICE.c.township,
                  PUBLIC_NOTICE.c.village, PUBLIC_NOTICE.c.household_size, PUBLIC_NOTICE.c.amount,
                  PUBLIC_NOTICE.c.published_at, PUBLIC_NOTICE.c.ends_at)  # what the portal may show


def publications(session: Any, reference: ReferenceData, case_no: str, requests: Sequence[Mapping[str, Any]],
                 now: datetime) -> None:
    """Write the entries the step's `publish_notice` calls asked for (in the step's transaction)."""
    if not requests:
        return
    conn = session.connection()
    application = conn.execute(select(APPLICATION.c.applicant_name, APPLICATION.c.township, APPLICATION.c.village,
                                      APPLICATION.c.matters).where(APPLICATION.c.case_no == case_no)).first()
    if application is None:  # a process without an application has no one to notice
        return
    catalog = reference.matters()
    rows = []
    for request in requests:
        matters = [m for m in dict.fromkeys([*(application.matters or []), *(request.get("matters") or [])])
                   if catalog.get(m, {}).get("noticed") and catalog[m]["department"] == request["department"]]
        days = request["days"]
        for matter in matters:
            rows.append({"case_no": case_no, "matter": matter, "department": request["department"],
                         "masked_name": personal_data.mask_name(application.applicant_name),
                         "township": application.township, "village": application.village,
                         "household_size": request["household_size"], "amount": request["amount"],
                         "published_at": now, "ends_at": now + timedelta(days=days), "status": ACTIVE})
    store.insert_rows(conn, PUBLIC_NOTICE, rows)
    for row in rows:
        record(session, case_no, "notice_published", "system", now,
               data={"matter": row["matter"], "ends_at": row["ends_at"].isoformat()})


def publish_request(department: Any, amount: Any = None, household_size: Any = None, matters: Any = None,
                    days: Any = DEFAULT_DAYS) -> dict[str, Any]:
    """The arguments of `publish_notice` checked and made plain (what the helper queues)."""
    number = amount if isinstance(amount, int | float) and not isinstance(amount, bool) and amount >= 0 else None
    size = household_size if isinstance(household_size, int) and not isinstance(household_size, bool) \
        and 0 < household_size < 100 else None
    period = days if isinstance(days, int) and not isinstance(days, bool) and 0 < days <= MAX_DAYS else DEFAULT_DAYS
    return {"department": str(department), "amount": float(number) if number is not None else None,
            "household_size": size, "matters": [str(m) for m in matters] if isinstance(matters, list) else [],
            "days": period}


def end_due(conn: Connection, now: datetime) -> int:
    """End every active entry whose period is over (the deadline jobs); return how many."""
    return int(conn.execute(update(PUBLIC_NOTICE).where(PUBLIC_NOTICE.c.status == ACTIVE,
                                                        PUBLIC_NOTICE.c.ends_at <= now)
                            .values(status=ENDED)).rowcount or 0)


class Publicity:
    """救助公示 on the portal and for administrators (`CaseEngine.publicity`)."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine
        self.workflows = engine.workflows

    @property
    def reference(self) -> ReferenceData:
        """Matter and department names."""
        return self.engine.settings.reference

    def _public(self, session: Any, rows: Sequence[Any]) -> list[dict[str, Any]]:
        names = labels.org_names(session, [c for r in rows for c in (r.township, r.village)])
        return [{"id": r.id, "matter": r.matter, "matter_name": self.reference.matter_name(r.matter),
                 "masked_name": r.masked_name, "township_name": names.get(r.township or "", ""),
                 "village_name": names.get(r.village or "", ""), "household_size": r.household_size,
                 "amount": r.amount, "published_at": r.published_at, "ends_at": r.ends_at} for r in rows]

    def listing(self, township: str = "", village: str = "", month: str = "", page: int = 1,
                per_page: int = 20) -> Page[dict[str, Any]]:
        """The entries in their notice period, newest first, filtered by township, village and the month
        published (YYYY-MM); only the public columns are ever read."""
        where = [PUBLIC_NOTICE.c.status == ACTIVE]
        if township:
            where.append(PUBLIC_NOTICE.c.township == township[:60])
        if village:
            where.append(PUBLIC_NOTICE.c.village == village[:60])
        span = _month(month)
        if span is not None:
            where += [PUBLIC_NOTICE.c.published_at >= span[0], PUBLIC_NOTICE.c.published_at < span[1]]
        query = (select(*PUBLIC_COLUMNS).where(and_(*where))
                 .order_by(PUBLIC_NOTICE.c.published_at.desc(), PUBLIC_NOTICE.c.id.desc()))
        with self.workflows.reading() as session:
            found = paginate(session.connection(), query, page, per_page, lambda r: r)
            return replace(found, items=self._public(session, found.items))

    def _active(self, session: Any, notice_id: int) -> tuple[dict[str, Any], str]:
        """An entry in its notice period as the portal shows it, and its case (NotFound otherwise)."""
        row = session.connection().execute(select(*PUBLIC_COLUMNS, PUBLIC_NOTICE.c.case_no).where(
            PUBLIC_NOTICE.c.id == notice_id, PUBLIC_NOTICE.c.status == ACTIVE)).first()
        if row is None:
            raise NotFound("该公示不存在或已结束")
        return self._public(session, [row])[0], row.case_no

    def entry(self, notice_id: int) -> dict[str, Any]:
        """One entry in its notice period (NotFound otherwise: ended and withdrawn ones leave the portal)."""
        with self.workflows.reading() as session:
            return self._active(session, notice_id)[0]

    def object(self, notice_id: int, text: str, contact: str = "") -> str:
        """An objection (异议) from the portal: checked, then worked as the process `notice_objection` (a
        task for the center) and noted in the case's history; return the review's case number."""
        text, contact = (text or "").strip(), (contact or "").strip()
        errors: dict[str, list[str]] = {}
        if not text:
            errors["text"] = ["请写明异议的内容和理由"]
        elif len(text) > MAX_OBJECTION:
            errors["text"] = [f"不能超过 {MAX_OBJECTION} 个字"]
        if len(contact) > MAX_CONTACT:
            errors["contact"] = [f"不能超过 {MAX_CONTACT} 个字"]
        if errors:
            raise InvalidData("异议内容有误", errors)
        with self.workflows.reading() as session:
            shown, case_no = self._active(session, notice_id)
        try:
            review_case, _ = self.engine.start_process(OBJECTION_PROCESS, {
                "notice_id": notice_id, "relief_case_no": case_no, "objection_text": text,
                "notice_summary": f"{shown['masked_name']} · {shown['village_name'] or shown['township_name']} · "
                                  f"{shown['matter_name']}"}, actor="portal")
        except NotDeployed as missing:
            raise NotDeployed("暂时无法在网上受理异议，请拨打监督电话或到受理窗口反映") from missing
        now = clock.now()
        with self.workflows.transaction() as session:
            store.insert_rows(session.connection(), OBJECTION, [{
                "notice_id": notice_id, "text": text, "contact": contact or None, "review_case_no": review_case,
                "created_at": now}])
            record(session, case_no, "notice_objection", "portal", now,
                   data={"review_case_no": review_case, "text": text})
        return review_case

    # -- administrators -------------------------------------------------------------------

    def all_entries(self, principal: Principal, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """Every entry (all statuses) for administrators, newest first, with its case number."""
        scoping.require(principal, "notices_admin")
        query = select(PUBLIC_NOTICE).order_by(PUBLIC_NOTICE.c.published_at.desc(), PUBLIC_NOTICE.c.id.desc())
        with self.workflows.reading() as session:
            found = paginate(session.connection(), query, page, per_page, lambda r: r)
            shown = self._public(session, found.items)
            for item, row in zip(shown, found.items, strict=True):
                item.update({"case_no": row.case_no, "status": row.status, "status_label": STATUS_LABELS[row.status],
                             "withdrawn_reason": row.withdrawn_reason, "withdrawn_by": row.withdrawn_by})
            return replace(found, items=shown)

    def withdraw(self, principal: Principal, notice_id: int, reason: str) -> None:
        """Take an entry off the portal before its period ends, with a reason (audited, in the case's history)."""
        scoping.require(principal, "notices_admin")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidData("请填写撤回理由", {"reason": ["请填写撤回理由"]})
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            case_no = conn.execute(select(PUBLIC_NOTICE.c.case_no).where(PUBLIC_NOTICE.c.id == notice_id)
                                   ).scalar_one_or_none()
            if case_no is None:
                raise NotFound("该公示不存在")
            changed = conn.execute(update(PUBLIC_NOTICE).where(PUBLIC_NOTICE.c.id == notice_id,
                                                               PUBLIC_NOTICE.c.status == ACTIVE)
                                   .values(status=WITHDRAWN, withdrawn_at=now, withdrawn_by=principal.username,
                                           withdrawn_reason=reason[:MAX_REASON])).rowcount
            if not changed:
                raise TaskConflict("该公示已结束或已撤回")
            audit(session, principal.username, "notice_withdrawn", now, case_no, notice_id=notice_id, reason=reason)
            record(session, case_no, "notice_withdrawn", principal.username, now,
                   data={"notice_id": notice_id, "reason": reason[:MAX_REASON]})


def _month(month: str) -> tuple[datetime, datetime] | None:
    """A month (YYYY-MM, local time) as [start, next month's start) in UTC; None when malformed."""
    try:
        start = datetime.strptime(month, "%Y-%m")
    except ValueError:
        return None
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return clock.local_aware(start), clock.local_aware(following)
