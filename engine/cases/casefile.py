"""The case file (案卷) for pages and the API: one case or task at a glance, read-only and scoped.

`CaseFiles` (`CaseEngine.files`) assembles what a staff member needs to work a task: the applicant
(masked, R-6.4.3), the request, channel and matters, uploaded materials, the history, the plans and
results recorded so far, and the open tasks; also the case list, the receipt (回执), downloads of
materials and unmasking, which append to the audit log. Each call is one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Select, and_, select
from sqlalchemy.orm import Session

from engine import clock, status, tables
from engine.access import personal_data, scoping
from engine.access.accounts import Principal, audit
from engine.archive import store as archive_register
from engine.cases import labels, store
from engine.cases.case_query import (
    CaseFilter,
    channel_choices,
    filter_clause,
    level_choices,
    parse_filter,
    status_choices,
)
from engine.cases.history import CaseHistory
from engine.cases.intake import query_code_hash
from engine.cases.progress import applicant_progress, new_query_code, requested_items
from engine.cases.workflows import Workflows
from engine.catalog.records import FORMS, VERDICTS
from engine.deadlines.due import due_state
from engine.errors import InvalidData, NotFound
from engine.feedback.ratings import ratings_of_case
from engine.models import Application, Attachment, CaseEvent, ProcessDefinition
from engine.paging import paginate
from engine.reference import ReferenceData
from engine.status import COMPLETED, READY
from engine.tables import APPLICATION, TASK

MAX_REASON_LENGTH = 500
# A form whose schema says "x-case-file": true has its submitted data shown on the case file to
# everyone who may see the case (联动方案, 处理上报, 办结反馈, 办结汇总 …): a form file decides, not code.
CASE_FILE_KEY = "x-case-file"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _row(row: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping)


def _application(session: Session, case_no: str) -> Application:
    application = session.scalar(select(Application).where(Application.case_no == case_no))
    if application is None:
        raise scoping.case_not_found(case_no)
    return application


LIST_COLUMNS = (APPLICATION.c.case_no, APPLICATION.c.channel, APPLICATION.c.township, APPLICATION.c.village,
                APPLICATION.c.applicant_name, APPLICATION.c.request, APPLICATION.c.green_channel,
                APPLICATION.c.created_at, tables.INSTANCE.c.status)


def case_list_query(principal: Principal, case_filter: CaseFilter, reference: ReferenceData,
                    now: datetime, columns: Sequence[Any] = LIST_COLUMNS) -> Select[Any]:
    """The staff case list's statement: the cases in scope that the filter names (`case_query`), newest
    first (the applicant's name still unmasked: the caller masks it). The export asks for more `columns`."""
    instance = tables.INSTANCE
    where = and_(scoping.case_filter(principal), filter_clause(case_filter, reference, now))
    return (select(*columns)
            .select_from(APPLICATION.join(instance, instance.c.case_no == APPLICATION.c.case_no)).where(where)
            .order_by(APPLICATION.c.created_at.desc(), APPLICATION.c.case_no.desc()))


def task_list_query(principal: Principal, case_filter: CaseFilter, reference: ReferenceData,
                    now: datetime) -> Select[Any]:
    """The tasks of the cases `case_list_query` names that this user may see (`scoping.task_filter`),
    newest first: the query page's 任务 view."""
    cases = case_list_query(principal, case_filter, reference, now, (APPLICATION.c.case_no,)).order_by(None)
    return (select(*store.TASK_COLUMNS).where(TASK.c.case_no.in_(cases.scalar_subquery()),
                                               scoping.task_filter(principal))
            .order_by(TASK.c.created_at.desc(), TASK.c.id.desc()))


def unmask_reason(reason: str | None) -> str:
    """The reason given for seeing full personal data (a case, an export), stripped; InvalidData when it is
    missing or too long (R-6.4.3: every unmasking is logged with why)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("请填写查看原因", {"reason": ["请填写查看完整信息的原因"]})
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidData("查看原因过长", {"reason": [f"长度不能超过 {MAX_REASON_LENGTH} 个字符"]})
    return reason


def assignee_choices(session: Session, task: Mapping[str, Any]) -> list[dict[str, str]]:
    """Who could work the task if it were unclaimed (指派/改派候选): username, name, organisation."""
    return [{"username": who.username, "display_name": who.display_name, "org": who.org_code}
            for who in scoping.candidates(session, task)]


def masked_applicant(application: Application) -> dict[str, str | None]:
    """The applicant of an application row, masked (the one shape of `personal_data.masked_applicant`)."""
    return personal_data.masked_applicant(application.applicant_name, application.id_number, application.phone,
                                          application.address)


def api_applicant(session: Session, case_no: str) -> dict[str, Any]:
    """The case's applicant for the API: masked personal data with region, request and channel."""
    row = _application(session, case_no)
    return {**masked_applicant(row), "region": {"township": row.township, "village": row.village},
            "request": row.request, "channel": row.channel, "level": row.level,
            "green_channel": row.green_channel, "matters": list(row.matters or []),
            "registered_at": row.created_at.isoformat()}


def tasks_of_case(session: Session, case_no: str) -> list[Mapping[str, Any]]:
    rows = session.connection().execute(select(*store.TASK_COLUMNS, TASK.c.data).where(TASK.c.case_no == case_no)
                                        .order_by(TASK.c.created_at, TASK.c.id))
    return [_row(r) for r in rows]


class CaseFiles:
    """Read-mostly views of one case for staff and applicants."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows
        self.settings = workflows.settings
        self.reference, self.forms = self.settings.reference, self.settings.forms
        self.history = CaseHistory(self.reference, self.forms)

    # -- pieces ---------------------------------------------------------------------------

    def glance(self, session: Session, case_no: str) -> dict[str, Any]:
        """The case at a glance, applicant masked: request, channel, region, matters, materials (for a
        process started by key, which has no application: the process and who started it)."""
        if session.scalar(select(Application.id).where(Application.case_no == case_no)) is None:
            return self._process_glance(session, case_no)
        application = _application(session, case_no)
        names = labels.org_names(session, (application.township, application.village, application.registered_org))
        people = labels.actor_names(session, [application.registered_by])
        return {
            "case_no": case_no,
            "applicant": masked_applicant(application),
            "channel": application.channel, "channel_label": labels.channel_label(application.channel),
            "level": application.level, "level_label": labels.level_label(application.level),
            "green_channel": bool(application.green_channel),
            "township": application.township, "village": application.village,
            "region": {"township": application.township, "village": application.village},
            "region_names": names, "place": labels.place(names, application.township, application.village),
            "request": application.request,
            "matters": [{"code": m, "name": self.reference.matter_name(m)} for m in application.matters or []],
            "registered_at": application.created_at, "registered_by": application.registered_by,
            "registered_by_name": people.get(application.registered_by or "", application.registered_by),
            "clerk_name": labels.display_names(session, [application.registered_by]).get(
                application.registered_by or "", application.registered_by or ""),
            "window": names.get(application.registered_org or "", application.registered_org or ""),
            "attachments": self._attachments(session, case_no),
        }

    def _process_glance(self, session: Session, case_no: str) -> dict[str, Any]:
        instance = store.find_instance(session.connection(), case_no)
        if instance is None:
            raise scoping.case_not_found(case_no)
        definition = session.get_one(ProcessDefinition, instance.definition_id)
        started = session.scalars(select(CaseEvent).where(
            CaseEvent.case_no == case_no, CaseEvent.type == "case_started").order_by(CaseEvent.id)).first()
        starter = started.actor if started is not None else None
        people = labels.actor_names(session, [starter])
        return {
            "case_no": case_no, "process_key": definition.key, "process_name": definition.name,
            "applicant": None, "channel": None, "channel_label": "", "level": None, "level_label": "",
            "green_channel": False, "township": None, "village": None, "region": {"township": None, "village": None},
            "region_names": {}, "place": "", "request": definition.name, "matters": [],
            "registered_at": instance.started_at, "registered_by": starter,
            "registered_by_name": people.get(starter or "", starter), "clerk_name": "", "window": "",
            "attachments": [], "linked_case": (started.data or {}).get("relief_case_no") if started else None,
        }

    @staticmethod
    def _attachments(session: Session, case_no: str) -> list[dict[str, Any]]:
        rows = list(session.scalars(select(Attachment).where(Attachment.case_no == case_no)
                                    .order_by(Attachment.uploaded_at, Attachment.id)))
        people = labels.actor_names(session, [a.uploaded_by for a in rows])
        return [{"id": a.id, "filename": a.filename, "size": a.size, "content_type": a.content_type,
                 "sha256": a.sha256, "uploaded_at": a.uploaded_at, "uploaded_by": a.uploaded_by,
                 "uploaded_by_name": people.get(a.uploaded_by, a.uploaded_by)} for a in rows]

    def _status(self, conn: Connection, case_no: str) -> dict[str, Any]:
        instance = store.find_instance(conn, case_no)
        if instance is None:
            return {"status": "", "status_label": "", "definition_version": None}
        awaiting = instance.awaiting_supplement
        return {"status": instance.status,
                "status_label": status.SUPPLEMENT_LABEL if awaiting else status.label(instance.status),
                "definition_version": store.definition_version(conn, instance.definition_id),
                "started_at": instance.started_at, "ended_at": instance.ended_at,
                # 待补正: since when, and what the applicant was asked for
                "supplement": {"since": instance.supplement_since,
                               "items": requested_items(conn, self.reference, case_no, instance.supplement_since)}
                if awaiting else None}

    def results(self, session: Session, tasks: Sequence[Mapping[str, Any]],
                exclude: str | None = None) -> list[dict[str, Any]]:
        """Completed tasks whose form is shown on the case file (`x-case-file`), oldest first, with
        (label, text) rows: the joint plan, each department's report and result, the summary."""
        shown = {t["form_key"] for t in tasks if (self.forms.schema_or_none(t["form_key"]) or {}).get(CASE_FILE_KEY)}
        done = [t for t in tasks if t["form_key"] in shown and t["state"] == COMPLETED and t["id"] != exclude]
        done.sort(key=lambda t: (t["completed_at"], t["id"]))
        people = labels.actor_names(session, [t["completed_by"] for t in done])
        return [{"task_id": t["id"], "name": t["name"], "form_key": t["form_key"],
                 "department": (t["context"] or {}).get("department"),
                 "department_name": self.reference.department_name((t["context"] or {}).get("department")),
                 "completed_by": t["completed_by"], "completed_by_name": people.get(t["completed_by"] or ""),
                 "completed_at": t["completed_at"], "data": dict(t["data"] or {}),
                 "rows": self.rows(t["form_key"], t["data"] or {})} for t in done]

    def rows(self, form_key: str, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Submitted data as (field title, text) in the form's order; unknown fields last."""
        schema = self.forms.schema_or_none(form_key) or {}
        order = list(schema.get("properties", {})) + [k for k in data if k not in schema.get("properties", {})]
        return [(self.forms.field_title(form_key, k), self.history.value_text(form_key, k, data[k]))
                for k in order if k in data and data[k] not in (None, "", [])]

    def review(self, session: Session, task: Mapping[str, Any]) -> dict[str, Any] | None:
        """材料审查 on a task whose form has a review field (R-6.1.3.2): each material of the case's
        matters with its review standard and the verdict so far, and the case's files, those of the
        applicant's last 补正 marked new. A department's task (受理告知) reviews the matters that
        department implements, when the case has any; the center's all of them. None for other forms."""
        field = self.forms.review_field(task["form_key"])
        if field is None:
            return None
        initial = task["initial"]
        verdicts = {(v.get("matter", ""), v.get("material")): v for v in initial.get(field) or []
                    if isinstance(v, Mapping)}
        case_matters = session.scalar(select(Application.matters).where(Application.case_no == task["case_no"])) or []
        codes = list(dict.fromkeys([*case_matters, *(initial.get("matters") or []),
                                    *(v.get("matter") for v in verdicts.values() if v.get("matter"))]))
        catalog = self.reference.matters()
        department = task["context"].get("department")
        own = [c for c in codes if department and (catalog.get(c) or {}).get("department") == department]
        if own:
            codes = own
            verdicts = {key: v for key, v in verdicts.items() if key[0] in own}
        rows = []
        for code in codes:
            matter = catalog.get(code)
            for material in (matter or {}).get("materials", []):
                verdict = verdicts.pop((code, material["name"]), {})
                rows.append({**material, "form_label": FORMS.get(material["form"], ""),
                             "matter": code, "matter_name": matter["name"] if matter else code,
                             "material": material["name"], "verdict": verdict.get("verdict", ""),
                             "problem": verdict.get("problem", ""), "reason": verdict.get("reason", "")})
        for (code, name), verdict in verdicts.items():  # reviewed before, no longer in the catalog
            rows.append({"matter": code, "matter_name": self.reference.matter_name(code), "material": name,
                         "name": name, "form": "", "form_label": "", "required": False, "points": "", "problems": [],
                         "wrong_example": "", "field_work": "none", "verdict": verdict.get("verdict", ""),
                         "problem": verdict.get("problem", ""), "reason": verdict.get("reason", "")})
        fresh = {f.get("sha256") for f in ((task["context"].get("supplement") or {}).get("files") or [])}
        files = [{**a, "new": a["sha256"] in fresh} for a in self._attachments(session, task["case_no"])]
        supplement = task["context"].get("supplement")
        return {"field": field, "case_no": task["case_no"], "rows": rows, "files": files,
                "verdicts": list(VERDICTS.items()),
                "supplement": {**supplement, "at_text": clock.local_text(supplement.get("at"))} if supplement else None}

    def _task_view(self, session: Session, row: Mapping[str, Any], now: Any) -> dict[str, Any]:
        context = dict(row["context"] or {})
        groups = labels.group_labels(session, self.reference, row["candidate_groups"])
        people = labels.actor_names(session, [row["assignee"], row["completed_by"]])
        return {
            "id": row["id"], "case_no": row["case_no"], "name": row["name"], "form_key": row["form_key"],
            "state": row["state"], "state_label": status.task_state_label(row["state"]),
            "candidate_groups": list(row["candidate_groups"]), "group_names": [groups[g] for g in groups],
            "assignee": row["assignee"], "assignee_name": people.get(row["assignee"] or ""),
            "created_at": row["created_at"], "due_at": row["due_at"].isoformat() if row["due_at"] else None,
            "due": due_state(row["due_at"], now, self.workflows.calendar, row.get("overdue_since"))
            if row["state"] == READY else None,
            "completed_at": row["completed_at"], "completed_by": row["completed_by"],
            "completed_by_name": people.get(row["completed_by"] or ""),
            "data": dict(row["data"] or {}) if "data" in row else {}, "context": context,
            "open": row["state"] == READY,
            # What the form starts with: the stored data once done, else defaults and what the flow prefills.
            "initial": (dict(row["data"] or {}) if row["state"] != READY
                        else self.forms.apply_defaults(row["form_key"], dict(context.get("prefill") or {}))
                        if self.forms.schema_or_none(row["form_key"]) else {}),
            "department": context.get("department"),
            "department_name": self.reference.department_name(context.get("department")),
        }

    # -- pages ----------------------------------------------------------------------------

    def task_file(self, principal: Principal, task_id: str) -> dict[str, Any]:
        """Everything the task page shows; NotFound when the task is unknown or out of scope."""
        now = clock.now()
        with self.workflows.reading() as session:
            row = session.connection().execute(
                select(*store.TASK_COLUMNS, TASK.c.data).where(TASK.c.id == task_id)).first()
            task = _row(row) if row is not None else None
            if task is None or not scoping.may_see_task(principal, task):
                raise NotFound("任务不存在或不在您的权限范围内")
            case_no = task["case_no"]
            tasks = tasks_of_case(session, case_no)
            actions = scoping.task_actions(principal, task, task["state"] == READY)
            view = self._task_view(session, task, now)
            return {
                "task": view, "actions": actions, "review": self.review(session, view),
                "closed_rows": self.rows(task["form_key"], view["data"]) if task["state"] != READY else [],
                "assignees": assignee_choices(session, task) if actions["assign"] else [],
                "case": self.glance(session, case_no), "status": self._status(session.connection(), case_no),
                "history": self.history.entries(session, case_no, tasks),
                "results": self.results(session, tasks, exclude=task_id),
            }

    def case_file(self, principal: Principal, case_no: str) -> dict[str, Any]:
        """Everything the case page shows; NotFound when the case is unknown or out of scope."""
        now = clock.now()
        with self.workflows.reading() as session:
            scoping.check_case(session.connection(), principal, case_no)
            tasks = tasks_of_case(session, case_no)
            open_rows = sorted((t for t in tasks if t["state"] == READY), key=store.open_order)
            return {
                "case": self.glance(session, case_no), "status": self._status(session.connection(), case_no),
                "open_tasks": [{**self._task_view(session, t, now), "visible": scoping.may_see_task(principal, t)}
                               for t in open_rows],
                "history": self.history.entries(session, case_no, tasks),
                "results": self.results(session, tasks),
                "ratings": ratings_of_case(session.connection(), self.reference, case_no),  # 好差评
                # 电子档案 (R-6.1.2.2): None when this user may not see archives
                "archives": archive_register.listing(session.connection(), case_no)
                if scoping.may(principal, "archive_read") else None,
            }

    def search(self, principal: Principal, args: Mapping[str, Any], page: int = 1,
               per_page: int = 20) -> dict[str, Any]:
        """Cases this user may see that the filter named by `args` names (`case_query.parse_filter`), newest
        first: {"cases": the page, "filter": the CaseFilter used, "errors": the fields left out, and why}."""
        with self.workflows.reading() as session:
            conn = session.connection()
            case_filter, errors = parse_filter(conn, self.reference, args)
            found = paginate(conn, case_list_query(principal, case_filter, self.reference, clock.now()), page,
                             per_page, lambda r: dict(r._mapping))
            names = labels.org_names(session, {c for r in found.items for c in (r["township"], r["village"])})
        for row in found.items:
            row.update(applicant=personal_data.mask_name(row.pop("applicant_name")),
                       status_label=status.label(row["status"]), channel_label=labels.channel_label(row["channel"]),
                       place=labels.place(names, row["township"], row["village"]))
        return {"cases": found, "filter": case_filter, "errors": errors}

    def search_tasks(self, principal: Principal, args: Mapping[str, Any], page: int = 1,
                     per_page: int = 20) -> dict[str, Any]:
        """The tasks of the cases the filter names that this user may see (the query page's 任务 view), newest
        first, each with its groups' and assignee's names, state and due state; shaped like `search`."""
        now = clock.now()
        with self.workflows.reading() as session:
            conn = session.connection()
            case_filter, errors = parse_filter(conn, self.reference, args)
            found = paginate(conn, task_list_query(principal, case_filter, self.reference, now), page, per_page,
                             lambda r: dict(r._mapping))
            groups = labels.group_labels(session, self.reference,
                                         [g for r in found.items for g in r["candidate_groups"] or []])
            people = labels.actor_names(session, [r["assignee"] for r in found.items])
        for row in found.items:
            due = due_state(row["due_at"], now, self.workflows.calendar, row["overdue_since"]) \
                if row["state"] == READY else None
            late = row["completed_at"] is not None and row["due_at"] is not None and row["completed_at"] > row["due_at"]
            row.update(groups=[groups.get(g, g) for g in row["candidate_groups"] or []],
                       assignee_name=people.get(row["assignee"], row["assignee"]) if row["assignee"] else "",
                       state_label=status.task_state_label(row["state"]), due=due,
                       overdue=bool(due.overdue) if due else late)
        return {"tasks": found, "filter": case_filter, "errors": errors}

    def filter_choices(self) -> dict[str, dict[str, str]]:
        """The values the query page's selects offer, with their names: organisations by kind, matters,
        assistance types, departments, channels, levels, statuses and 好差评 levels (`case_query`)."""
        with self.workflows.reading() as session:
            orgs = session.execute(select(tables.ORGS.c.code, tables.ORGS.c.name, tables.ORGS.c.kind)
                                   .order_by(tables.ORGS.c.code)).all()
        by_kind = {kind: {code: name for code, name, k in orgs if k == kind} for kind in ("township", "village")}
        reference = self.reference
        departments = {code: str(d.get("zh", code)) for code, d in reference.departments().items()}
        return {"township": by_kind["township"], "village": by_kind["village"],
                "matter": {code: str(m.get("name", code)) for code, m in self.reference.matters().items()},
                "assistance_type": {code: str(t.get("zh", code)) for code, t in reference.assistance_types().items()},
                "department": departments, "channel": channel_choices(), "level": level_choices(),
                "status": status_choices(),
                "satisfaction": {code: str(r.get("zh", code)) for code, r in self.reference.rating_levels().items()}}

    def receipt(self, principal: Principal, case_no: str) -> dict[str, Any]:
        """The printable receipt (回执) of a registered application, masked; NotFound outside scope."""
        now = clock.now()
        with self.workflows.reading() as session:
            scoping.check_case(session.connection(), principal, case_no)
            case = self.glance(session, case_no)
            triage = [t for t in store.open_tasks(session.connection(), case_no=case_no) if t["form_key"] == "triage"]
        registered = case["registered_at"]
        due = None
        if triage and triage[0]["due_at"]:
            # Counted from registration, as the applicant was told at the window.
            state = due_state(triage[0]["due_at"], registered, self.workflows.calendar)
            due = {"workdays": state.workdays_left, "date": clock.local_text(triage[0]["due_at"], "%Y-%m-%d"),
                   "state": due_state(triage[0]["due_at"], now, self.workflows.calendar)}
        return {**case, "triage": due}

    def reissue_query_code(self, principal: Principal, case_no: str) -> str:
        """A new query code (查询码) for a case registered at a window or from 12345, e.g. when the applicant
        lost theirs: the old one stops working; shown once, audited. Window clerks of the case's scope."""
        scoping.require(principal, "register")
        code = new_query_code()
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            scoping.check_case(conn, principal, case_no)
            conn.execute(APPLICATION.update().where(APPLICATION.c.case_no == case_no)
                         .values(query_code_hash=query_code_hash(case_no, code)))
            audit(session, principal.username, "query_code_issued", now, case_no)
        return code

    def progress(self, case_no: str, code: str) -> dict[str, Any] | None:
        """What an applicant may see of their case with the right query code (进度查询), else None."""
        with self.workflows.reading() as session:
            return applicant_progress(session.connection(), self.reference, case_no, code)

    # -- acting on personal data ----------------------------------------------------------

    def unmask(self, principal: Principal, case_no: str, reason: str) -> dict[str, str]:
        """Return the applicant's full personal data for one view, and log it (查看完整信息, R-6.4.3)."""
        scoping.require(principal, "unmask")
        reason = unmask_reason(reason)
        with self.workflows.transaction() as session:
            scoping.check_case(session.connection(), principal, case_no)
            application = _application(session, case_no)
            audit(session, principal.username, "unmask", clock.now(), target=case_no, reason=reason)
            return {"name": application.applicant_name, "id_number": application.id_number,
                    "phone": application.phone, "address": application.address or ""}

    def attachment(self, principal: Principal, case_no: str, attachment_id: int) -> dict[str, Any]:
        """An uploaded material of a visible case: name, type and where it is stored; the download is logged."""
        with self.workflows.transaction() as session:
            attachment = session.get(Attachment, attachment_id)
            if attachment is None or attachment.case_no != case_no or not scoping.may_see_case(
                    session.connection(), principal, case_no):
                raise NotFound("材料不存在或不在您的权限范围内")
            path = Path(self.settings.upload_dir) / attachment.sha256
            if not _SHA256_RE.match(attachment.sha256) or not path.is_file():
                raise NotFound("材料文件缺失")
            audit(session, principal.username, "attachment_download", clock.now(), target=case_no,
                  attachment=attachment_id)
            return {"filename": attachment.filename, "content_type": attachment.content_type,
                    "directory": str(path.parent), "stored_name": attachment.sha256, "size": attachment.size}
