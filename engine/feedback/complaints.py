"""投诉反馈 (R-6.2.1's online "投诉反馈"; R-6.3.6's 监督投诉电话): complaints from every channel, each worked
as the process `complaint` (processes/complaint.bpmn).

A complaint comes from the portal (anonymous allowed), a window (a clerk registers it), a 12345 work order
of type 投诉 (`engine.cases.hotline` hands it here) or the 监督投诉电话 (a center officer logs it). Every
channel comes through `Complaints.file`: one check, one row in `complaint`, and the process started in the
same transaction under the complaint's own number (TS…). `route` says who handles it: a township or
village the complaints about itself, the center those about a department, the joint office or the center;
a complaint about a person goes to their organisation but never to them (the process variable
`excluded_user`, which `engine.access.scoping` enforces) — to the center when no one else there could
take it. A named relief case is linked and the complaint noted in its history. The complainant follows it
on the portal with the number and query code; `counts` gives the statistics by month, type, result and
handling organisation. What the process records of its steps is `engine.feedback.complaint_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.orm import Session

from engine import clock, status
from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases import labels, store
from engine.cases.intake import next_case_no, query_code_hash
from engine.cases.progress import hash_matches, new_query_code
from engine.errors import Forbidden, InvalidData, NotFound
from engine.reference import ReferenceData
from engine.tables import APPLICATION, COMPLAINT, HOTLINE, ORGS, USERS

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

COMPLAINT_PREFIX = "TS"
CENTER = "center"
SELF_HANDLING = ("township", "village")  # organisations that handle the complaints about themselves
ORG_ORDER = ("center", "department", "joint_office", "township", "village")
LIMITS = {"text": 2000, "name": 100, "phone": 30}
INVALID = "投诉信息有误，请按提示修改后重新提交"
WRONG_CODE = "投诉编号或查询码不正确"
PENDING_RESULT = "pending"  # not yet handled: what the statistics count it under


@dataclass(frozen=True)
class CheckedComplaint:
    """A complaint that passed `check_complaint`: trimmed texts, the organisation as its code."""

    channel: str
    complaint_type: str
    text: str
    anonymous: bool
    name: str | None
    phone: str | None
    relief_case_no: str | None
    about_org: str | None
    about_user: str | None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _org_code(conn: Connection, given: str) -> str | None:
    """An organisation by its code or its name (None when the county has no such organisation)."""
    return conn.execute(select(ORGS.c.code).where(or_(ORGS.c.code == given, ORGS.c.name == given))
                        .order_by(ORGS.c.code).limit(1)).scalar()


def _contact_errors(data: Mapping[str, Any], anonymous: bool) -> dict[str, list[str]]:
    if anonymous:
        return {}
    errors: dict[str, list[str]] = {}
    if not _text(data, "name"):
        errors["name"] = ["请填写投诉人姓名，或选择匿名投诉"]
    phone = _text(data, "phone")
    problem = personal_data.validate_phone(phone) if phone else "请填写联系电话（用于告知办理结果），或选择匿名投诉"
    if problem:
        errors["phone"] = [problem]
    for key in ("name", "phone"):
        if len(_text(data, key)) > LIMITS[key]:
            errors[key] = [f"不能超过 {LIMITS[key]} 个字"]
    return errors


def check_complaint(conn: Connection, reference: ReferenceData, channel: str, data: Mapping[str, Any]
                    ) -> tuple[CheckedComplaint | None, dict[str, list[str]]]:
    """The one check of a complaint from any channel; return it normalised, or None with field → messages."""
    errors: dict[str, list[str]] = {}
    if channel not in status.COMPLAINT_CHANNELS:
        errors["channel"] = [f"投诉渠道应为 {'、'.join(status.COMPLAINT_CHANNELS)} 之一"]
    if _text(data, "complaint_type") not in reference.complaint_types():
        errors["complaint_type"] = ["请选择投诉类型"]
    text = _text(data, "text")
    if not text:
        errors["text"] = ["请写明投诉的事项和经过"]
    elif len(text) > LIMITS["text"]:
        errors["text"] = [f"不能超过 {LIMITS['text']} 个字"]
    anonymous = data.get("anonymous") is True and channel != "hotline"  # a 12345 caller is always known
    errors.update(_contact_errors(data, anonymous))
    case_no = _text(data, "case_no").upper()[:40]
    if case_no and conn.execute(select(APPLICATION.c.id).where(APPLICATION.c.case_no == case_no)).first() is None:
        errors["case_no"] = [f"未找到案件 {case_no}，请核对案件编号（可不填）"]
    about_org = _org_code(conn, _text(data, "about_org")[:200]) if _text(data, "about_org") else None
    if _text(data, "about_org") and about_org is None:
        errors["about_org"] = [f"未知的机构：{_text(data, 'about_org')[:60]}"]
    about_user = _text(data, "about_user")[:100] or None
    if about_user and conn.execute(select(USERS.c.id).where(USERS.c.username == about_user,
                                                            USERS.c.active.is_(True))).first() is None:
        errors["about_user"] = [f"未知的工作人员：{about_user}"]
    if errors:
        return None, errors
    return CheckedComplaint(channel, _text(data, "complaint_type"), text, anonymous,
                            None if anonymous else _text(data, "name"), None if anonymous else _text(data, "phone"),
                            case_no or None, about_org, about_user), {}


def route(conn: Connection, about_org: str | None, about_user: str | None) -> tuple[str | None, str]:
    """(the organisation complained about, the candidate group that handles it). A township or village handles
    what is about itself; the center what is about a department, the joint office or itself, and what names
    no one. A complaint about a person is about their organisation, and goes to the center when no one else
    there could work it (it never goes to the person: `excluded_user`)."""
    org = about_org
    if org is None and about_user:
        org = conn.execute(select(USERS.c.org_code).where(USERS.c.username == about_user)).scalar()
    kind = conn.execute(select(ORGS.c.kind).where(ORGS.c.code == org)).scalar() if org else None
    handler = str(org) if kind in SELF_HANDLING else CENTER
    if about_user and handler != CENTER and conn.execute(select(USERS.c.id).where(
            scoping.members_clause([handler]), USERS.c.username != about_user).limit(1)).first() is None:
        handler = CENTER
    return org, handler


class Complaints:
    """Filing and following complaints (`CaseEngine.complaints`)."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine
        self.workflows = engine.workflows

    @property
    def reference(self) -> ReferenceData:
        return self.workflows.settings.reference

    # -- what a complaint form offers ------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The complaint types and the organisations one may complain about, for a form: [(code, name)] each."""
        with self.workflows.reading() as session:
            rows = session.connection().execute(select(ORGS.c.code, ORGS.c.name, ORGS.c.kind)).all()
        order = {kind: i for i, kind in enumerate(ORG_ORDER)}
        orgs = sorted(rows, key=lambda r: (order.get(r.kind, len(order)), r.code))
        return {"types": [(code, t["zh"]) for code, t in self.reference.complaint_types().items()],
                "orgs": [(r.code, r.name) for r in orgs]}

    # -- filing ----------------------------------------------------------------------------

    def file_online(self, data: Mapping[str, Any]) -> tuple[str, str]:
        """A complaint on the portal (anonymous allowed); return its number and the query code (shown once)."""
        code = new_query_code()
        return self.file("portal", data, "portal", query_code=code), code

    def register(self, principal: Principal, channel: str, data: Mapping[str, Any]) -> tuple[str, str]:
        """A complaint registered by staff: at a window by its clerk, from the 监督投诉电话 by a center officer;
        return its number and the query code to pass on."""
        scoping.require(principal, "complaint_register")
        if channel not in scoping.complaint_channels(principal):
            raise Forbidden("您不能登记这一渠道的投诉")
        code = new_query_code()
        return self.file(channel, data, principal.username, principal.org_code, code), code

    def file(self, channel: str, data: Mapping[str, Any], actor: str, org: str | None = None,
             query_code: str | None = None, hotline_order: Mapping[str, Any] | None = None) -> str:
        """Check and store a complaint and start its process, all in one transaction; return its number (TS…).
        Every channel comes through here; refused input raises InvalidData naming every problem."""
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            checked, errors = check_complaint(conn, self.reference, channel, data)
            if checked is None:
                raise InvalidData(INVALID, errors)
            about_org, handler = route(conn, checked.about_org, checked.about_user)
            complaint_no = next_case_no(conn, now, COMPLAINT_PREFIX)
            store.insert_rows(conn, COMPLAINT, [{
                "complaint_no": complaint_no, "channel": channel, "complaint_type": checked.complaint_type,
                "text": checked.text, "anonymous": checked.anonymous, "name": checked.name, "phone": checked.phone,
                "query_code_hash": query_code_hash(complaint_no, query_code) if query_code else None,
                "relief_case_no": checked.relief_case_no, "about_org": about_org, "about_user": checked.about_user,
                "handler_org": handler, "status": status.COMPLAINT_RECEIVED, "registered_by": actor,
                "registered_org": org, "created_at": now, "month": clock.local_text(now, "%Y-%m")}])
            if hotline_order is not None:
                store.insert_rows(conn, HOTLINE, [{**hotline_order, "case_no": complaint_no, "received_at": now}])
            self.engine.start_process_in(session, status.COMPLAINT_PROCESS,
                                         self._variables(session, checked, about_org, handler), actor, now,
                                         case_no=complaint_no)
            return complaint_no

    def _variables(self, session: Session, checked: CheckedComplaint, about_org: str | None,
                   handler: str) -> dict[str, Any]:
        """The process's data: what routes and words its tasks; no personal data but the masked contact."""
        return {"channel": checked.channel, "complaint_type": checked.complaint_type,
                "anonymous": checked.anonymous, "handler": handler, "about_org": about_org or "",
                "excluded_user": checked.about_user or "", "relief_case_no": checked.relief_case_no or "",
                "complaint_summary": self._summary(session, checked, about_org)}

    def _summary(self, session: Session, checked: CheckedComplaint, about_org: str | None) -> str:
        """The complaint as its handler reads it on the task: channel, type, text, whom it is about, contact."""
        kind = self.reference.complaint_type_name(checked.complaint_type)
        lines = [f"【{status.COMPLAINT_CHANNELS[checked.channel]}】{kind}：{checked.text}"]
        if about_org:
            lines.append(f"投诉对象：{labels.org_names(session, [about_org]).get(about_org, about_org)}")
        if checked.about_user:
            name = labels.display_names(session, [checked.about_user]).get(checked.about_user, checked.about_user)
            lines.append(f"被投诉人员：{name}（不参与办理）")
        if checked.relief_case_no:
            lines.append(f"关联案件：{checked.relief_case_no}")
        contact = "匿名" if checked.anonymous else \
            f"{personal_data.mask_name(checked.name or '')}（{personal_data.mask_phone(checked.phone or '')}）"
        lines.append(f"投诉人：{contact}")
        return "\n".join(lines)

    # -- following -------------------------------------------------------------------------

    def progress(self, complaint_no: str, query_code: str) -> dict[str, Any]:
        """What the complainant sees with the number and query code: status, type, handler and, once given,
        the reply — never the contact. NotFound for a wrong number or code (the two are not told apart)."""
        with self.workflows.reading() as session:
            row = session.connection().execute(select(COMPLAINT).where(COMPLAINT.c.complaint_no == complaint_no)
                                               ).mappings().first()
            matched = hash_matches(row["query_code_hash"] if row else None, complaint_no, query_code)
            if row is None or not matched:
                raise NotFound(WRONG_CODE)
            handler = labels.group_labels(session, self.reference, [row["handler_org"]])[row["handler_org"]]
        return {"complaint_no": complaint_no, "status": row["status"],
                "status_label": status.COMPLAINT_STATUSES.get(row["status"], row["status"]),
                "type_name": self.reference.complaint_type_name(row["complaint_type"]),
                "channel_label": status.COMPLAINT_CHANNELS.get(row["channel"], row["channel"]),
                "filed_at": clock.local_text(row["created_at"]), "handler_name": handler,
                "result_name": self._result_name(row["finding"]) if row["finding"] else "",
                "reply": row["reply"], "replied_at": clock.local_text(row["replied_at"]) if row["replied_at"] else ""}

    def _result_name(self, finding: str | None) -> str:
        if not finding or finding == PENDING_RESULT:
            return "未办结"
        return self.workflows.settings.forms.enum_label("complaint_handle", "finding", finding)

    # -- statistics ------------------------------------------------------------------------

    def counts(self, principal: Principal, period: str) -> list[dict[str, Any]]:
        """Complaints filed in `period` (a month YYYY-MM, or a year YYYY) that the user may read, counted by
        month, type, result (办理结果; `pending` until handled) and handling organisation, with their names."""
        month = COMPLAINT.c.month
        if len(period) == 7 and _is_period(period, "%Y-%m"):
            when = month == period
        elif len(period) == 4 and _is_period(period, "%Y"):
            when = month.startswith(f"{period}-")
        else:
            raise InvalidData("统计期间有误", {"period": ["应为 YYYY-MM（某月）或 YYYY（某年）"]})
        result = func.coalesce(COMPLAINT.c.finding, PENDING_RESULT)
        query = (select(month, COMPLAINT.c.complaint_type, result.label("result"), COMPLAINT.c.handler_org,
                        func.count().label("complaints"))
                 .where(and_(when, scoping.complaint_filter(principal)))
                 .group_by(month, COMPLAINT.c.complaint_type, result, COMPLAINT.c.handler_org)
                 .order_by(month, COMPLAINT.c.complaint_type, result, COMPLAINT.c.handler_org))
        with self.workflows.reading() as session:
            rows = session.connection().execute(query).all()
            names = labels.group_labels(session, self.reference, {r.handler_org for r in rows})
        type_name = self.reference.complaint_type_name
        return [{"month": r.month, "complaint_type": r.complaint_type, "type_name": type_name(r.complaint_type),
                 "result": r.result, "result_name": self._result_name(r.result), "handler_org": r.handler_org,
                 "handler_name": names.get(r.handler_org, r.handler_org), "count": int(r.complaints)} for r in rows]


def _is_period(text: str, pattern: str) -> bool:
    try:
        datetime.strptime(text, pattern)
    except ValueError:
        return False
    return True
