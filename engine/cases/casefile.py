"""The case file (案卷) for pages and the API: one case or task at a glance, read-only and scoped.

Assembles what a staff member needs to work a task: the applicant (masked, R-6.4.3), the request,
channel and matters, uploaded materials, the history, earlier departments' results and the open
tasks. Nothing here writes except `unmask_applicant` and `attachment_for_download`, which only
append to the audit log. Callers pass the session; its transaction is theirs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import reference
from engine.access import personal_data, scoping
from engine.access.accounts import Principal, audit, principal_of
from engine.bpmn import forms
from engine.cases import store
from engine.cases.intake import LOCAL_TZ
from engine.cases.store import CANCELLED, COMPLETED, READY, TASK
from engine.errors import Forbidden, InvalidData, NotFound
from engine.i18n import _l
from engine.models import Application, Attachment, Organisation, User, UserRole
from engine.notify.notices import notice_text

APPLICATION = scoping.APPLICATION
RESULT_FORMS = ("field_report", "dept_result")
MAX_REASON_LENGTH = 500
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


STATUS_LABELS = {"open": _l("办理中"), "closed_completed": _l("办结"), "closed_declined": _l("不予受理"),
                 "suspended": _l("已挂起"), "terminated": _l("已终止"), "error": _l("流程出错")}
TASK_STATE_LABELS = {READY: _l("待办"), COMPLETED: _l("已办结"), CANCELLED: _l("已取消")}
CHANNEL_LABELS = {"window": _l("窗口"), "online": _l("网上申请"), "terminal": _l("自助终端"),
                  "hotline": _l("12345热线")}
LEVEL_LABELS = {"county": _l("县级"), "township": _l("乡镇(街道)"), "village": _l("村(社区)")}
EVENT_LABELS = {
    "case_started": _l("登记受理"),
    "task_created": _l("生成待办"),
    "task_claimed": _l("认领"),
    "task_released": _l("退回组内"),
    "task_assigned": _l("指派"),
    "task_completed": _l("办理完成"),
    "task_cancelled": _l("任务取消"),
    "decision": _l("作出决定"),
    "notice": _l("告知申请人"),
    "timer_fired": _l("超期督办"),
    "case_closed": _l("案件结束"),
    "hotline_result_queued": _l("12345回单"),
    "case_suspended": _l("挂起"),
    "case_resumed": _l("恢复"),
    "case_terminated": _l("终止"),
    "case_migrated": _l("迁移流程版本"),
    "task_error": _l("环节出错"),
    "task_retried": _l("重试出错环节"),
}
_SYSTEM_ACTORS = {"system": "系统", "scheduler": "系统定时任务"}


def _row(row: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping)


def local_time(value: datetime | str | None) -> str:
    """Format a moment as local (Asia/Shanghai) 'YYYY-MM-DD HH:MM'; '' for None."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def department_name(code: str | None) -> str:
    """The Chinese name of a department code (the code itself when unknown)."""
    if not code:
        return ""
    return str(reference.departments().get(code, {}).get("zh", code))


# -- scope ----------------------------------------------------------------------------------


def may_see_case(session: Session, principal: Principal, case_no: str) -> bool:
    """True when the case exists and is in scope, or one of its tasks is visible to this user."""
    return session.connection().execute(scoping.case_visible_clause(principal, case_no)).first() is not None


def task_actions(principal: Principal, task: Mapping[str, Any]) -> dict[str, bool]:
    """What this user may do with a task now: claim, release, assign, complete."""
    is_open = task["state"] == READY
    may_work = is_open and scoping.may_work_task(principal, task)
    may_assign = is_open and scoping.may_assign_task(principal, task)
    held = task["assignee"] is not None
    return {
        "claim": may_work and not held,
        "release": is_open and held and (task["assignee"] == principal.username or may_assign),
        "assign": may_assign,
        "complete": may_work,
    }


# -- the case at a glance ------------------------------------------------------------------


def _application(session: Session, case_no: str) -> Application:
    application = session.scalar(select(Application).where(Application.case_no == case_no))
    if application is None:
        raise NotFound(f"案件 {case_no} 不存在或不在您的权限范围内")
    return application


def masked_applicant(application: Application) -> dict[str, str]:
    """The applicant's personal data masked for display (DOMAIN: first 6/last 4, 138****8000)."""
    return {
        "name": personal_data.mask_name(application.applicant_name),
        "id_number": personal_data.mask_id_number(application.id_number),
        "phone": personal_data.mask_phone(application.phone),
        "address": personal_data.mask_address(application.address or ""),
    }


def masked_applicant_of(session: Session, case_no: str) -> dict[str, str]:
    """The masked applicant of a case (NotFound when there is none)."""
    return masked_applicant(_application(session, case_no))


def _attachments(session: Session, case_no: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Attachment).where(Attachment.case_no == case_no)
                           .order_by(Attachment.uploaded_at, Attachment.id))
    return [{"id": a.id, "filename": a.filename, "size": a.size, "content_type": a.content_type,
             "uploaded_at": a.uploaded_at, "uploaded_by": a.uploaded_by} for a in rows]


def glance(session: Session, case_no: str) -> dict[str, Any]:
    """The case at a glance, applicant masked: request, channel, region, matters, materials."""
    application = _application(session, case_no)
    catalog = reference.matters()
    return {
        "case_no": case_no,
        "applicant": masked_applicant(application),
        "channel": application.channel,
        "channel_label": CHANNEL_LABELS.get(application.channel, application.channel),
        "level_label": LEVEL_LABELS.get(application.level, application.level),
        "green_channel": bool(application.green_channel),
        "township": application.township,
        "village": application.village,
        "region_names": _org_names(session, [c for c in (application.township, application.village) if c]),
        "request": application.request,
        "matters": [{"code": m, "name": str(catalog.get(m, {}).get("name", m))} for m in application.matters or []],
        "registered_at": application.created_at,
        "registered_by": application.registered_by,
        "attachments": _attachments(session, case_no),
    }


def _org_names(session: Session, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(select(Organisation.code, Organisation.name).where(Organisation.code.in_(codes)))
    return {code: name for code, name in rows}


def group_labels(session: Session, groups: Sequence[str]) -> dict[str, str]:
    """Names of candidate groups: organisation names, else role names, else the code."""
    names = _org_names(session, list(groups))
    roles = reference.roles()
    return {g: names.get(g) or str(roles.get(g, {}).get("zh", g)) for g in groups}


# -- history and results --------------------------------------------------------------------


def _tasks_of_case(session: Session, case_no: str) -> list[Mapping[str, Any]]:
    rows = session.connection().execute(select(*store.TASK_COLUMNS, TASK.c.data).where(TASK.c.case_no == case_no)
                                        .order_by(TASK.c.created_at, TASK.c.id))
    return [_row(r) for r in rows]


def _actor_names(session: Session, usernames: set[str]) -> dict[str, str]:
    names = dict(_SYSTEM_ACTORS)
    people = usernames - names.keys()
    if people:
        rows = session.execute(select(User.username, User.display_name).where(User.username.in_(sorted(people))))
        names.update({username: f"{display}（{username}）" for username, display in rows})
    return names


def _enum_label(form_key: str, field: str, value: Any) -> str:
    if field == "departments" or field == "department":
        return department_name(str(value))
    try:
        spec = forms.load_schema(form_key).get("properties", {}).get(field, {})
    except (forms.UnknownFormError, forms.FormSchemaError):
        return str(value)
    return str(spec.get("x-enum-labels", {}).get(value, value))


def _field_title(form_key: str, field: str) -> str:
    try:
        spec = forms.load_schema(form_key).get("properties", {}).get(field, {})
    except (forms.UnknownFormError, forms.FormSchemaError):
        return field
    return str(spec.get("title", field))


def _decision_detail(form_key: str, data: Mapping[str, Any]) -> str:
    parts = []
    for field, value in data.items():
        if isinstance(value, list):
            text = "、".join(_enum_label(form_key, field, v) for v in value)
        else:
            text = _enum_label(form_key, field, value)
        parts.append(f"{_field_title(form_key, field)}：{text}")
    return "；".join(parts)


def _event_detail(event: Any, form_keys: Mapping[str, str], groups: Mapping[str, str]) -> str:
    data: Mapping[str, Any] = event.data or {}
    kind = event.type
    if kind == "case_started":
        channel, level = str(data.get("channel")), str(data.get("level"))
        text = f"{CHANNEL_LABELS.get(channel, channel)}·{LEVEL_LABELS.get(level, level)}，" \
               f"流程版本 v{data.get('definition_version')}"
        return text + ("，绿色通道" if data.get("green_channel") else "")
    if kind == "task_created":
        due = local_time(data.get("due_at"))
        names = "、".join(groups.get(g, g) for g in data.get("candidate_groups", []))
        return f"候选：{names}" + (f"；办理时限 {due}" if due else "")
    if kind == "task_assigned":
        return f"指派给 {data.get('assignee')}" + (f"；原因：{data['reason']}" if data.get("reason") else "")
    if kind == "task_released" and data.get("previous"):
        return f"原办理人 {data.get('previous')}"
    if kind == "decision":
        return _decision_detail(form_keys.get(event.task_id or "", ""), data)
    if kind == "notice":
        return notice_text(str(data.get("kind")), {k: v for k, v in data.items() if k != "kind"})
    if kind == "timer_fired":
        department = department_name(data.get("department"))
        return f"{data.get('name') or ''}{'：' + department if department else ''}"
    if kind == "case_closed":
        return STATUS_LABELS.get(str(data.get("status")), str(data.get("status")))
    if kind == "hotline_result_queued":
        return f"工单 {data.get('order_no')}"
    if kind == "task_error":
        return str(data.get("message") or "")
    if kind == "case_migrated":
        return f"v{data.get('from')} → v{data.get('to')}；原因：{data.get('reason') or ''}"
    if kind in ("case_suspended", "case_resumed", "case_terminated", "task_retried"):
        return f"原因：{data.get('reason') or ''}"
    return ""


def history(session: Session, case_no: str, tasks: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The case's event log in order, with Chinese labels, actor names and a one-line detail."""
    tasks = _tasks_of_case(session, case_no) if tasks is None else tasks
    form_keys = {t["id"]: t["form_key"] for t in tasks}
    events = store.events_of_case(session.connection(), case_no)
    all_groups = {g for e in events for g in (e.data or {}).get("candidate_groups", [])}
    groups = group_labels(session, sorted(all_groups))
    actors = _actor_names(session, {e.actor for e in events})
    return [{"type": e.type, "label": EVENT_LABELS.get(e.type, e.type), "at": e.at, "task_name": e.task_name,
             "task_id": e.task_id, "actor": e.actor, "actor_name": actors.get(e.actor, e.actor),
             "detail": _event_detail(e, form_keys, groups)} for e in events]


def earlier_results(tasks: Sequence[Mapping[str, Any]], exclude: str | None = None) -> list[dict[str, Any]]:
    """Completed 处理上报/办结反馈 tasks of the case, oldest first: who reported what for which department."""
    done = [t for t in tasks if t["form_key"] in RESULT_FORMS and t["state"] == COMPLETED and t["id"] != exclude]
    done.sort(key=lambda t: (t["completed_at"], t["id"]))
    return [{"task_id": t["id"], "name": t["name"], "form_key": t["form_key"],
             "department": (t["context"] or {}).get("department"),
             "department_name": department_name((t["context"] or {}).get("department")),
             "completed_by": t["completed_by"], "completed_at": t["completed_at"], "data": dict(t["data"] or {})}
            for t in done]


def _task_view(row: Mapping[str, Any]) -> dict[str, Any]:
    context = dict(row["context"] or {})
    return {
        "id": row["id"], "case_no": row["case_no"], "name": row["name"], "form_key": row["form_key"],
        "state": row["state"], "state_label": TASK_STATE_LABELS.get(row["state"], row["state"]),
        "candidate_groups": list(row["candidate_groups"]), "assignee": row["assignee"],
        "created_at": row["created_at"], "due_at": row["due_at"].isoformat() if row["due_at"] else None,
        "completed_at": row["completed_at"], "completed_by": row["completed_by"],
        "data": dict(row["data"] or {}) if "data" in row else {}, "context": context,
        "department": context.get("department"), "department_name": department_name(context.get("department")),
    }


# -- pages ----------------------------------------------------------------------------------


def task_file(session: Session, principal: Principal, task_id: str) -> dict[str, Any]:
    """Everything the task page shows; NotFound when the task is unknown or out of scope."""
    row = session.connection().execute(select(*store.TASK_COLUMNS, TASK.c.data).where(TASK.c.id == task_id)).first()
    task = _row(row) if row is not None else None
    if task is None or not scoping.may_see_task(principal, task):
        raise NotFound("任务不存在或不在您的权限范围内")
    tasks = _tasks_of_case(session, task["case_no"])
    actions = task_actions(principal, task)
    return {
        "task": _task_view(task),
        "actions": actions,
        "groups": group_labels(session, list(task["candidate_groups"])),
        "assignees": assignable_users(session, task) if actions["assign"] else [],
        "case": glance(session, task["case_no"]),
        "status": _status(session, task["case_no"]),
        "history": history(session, task["case_no"], tasks),
        "results": earlier_results(tasks, exclude=task_id),
    }


def _status(session: Session, case_no: str) -> dict[str, Any]:
    conn = session.connection()
    instance = store.find_instance(conn, case_no)
    if instance is None:
        return {"status": "", "status_label": "", "definition_version": None}
    return {"status": instance.status, "status_label": STATUS_LABELS.get(instance.status, instance.status),
            "definition_version": store.definition_version(conn, instance.definition_id),
            "started_at": instance.started_at, "ended_at": instance.ended_at}


def case_file(session: Session, principal: Principal, case_no: str) -> dict[str, Any]:
    """Everything the case page shows; NotFound when the case is unknown or out of scope."""
    if not may_see_case(session, principal, case_no):
        raise NotFound(f"案件 {case_no} 不存在或不在您的权限范围内")
    tasks = _tasks_of_case(session, case_no)
    open_rows = [t for t in tasks if t["state"] == READY]
    open_rows.sort(key=store.open_order)
    groups = group_labels(session, sorted({g for t in open_rows for g in t["candidate_groups"]}))
    return {
        "case": glance(session, case_no),
        "status": _status(session, case_no),
        "open_tasks": [{**_task_view(t), "visible": scoping.may_see_task(principal, t)} for t in open_rows],
        "groups": groups,
        "history": history(session, case_no, tasks),
        "results": earlier_results(tasks),
    }


# -- acting on personal data ------------------------------------------------------------------


def unmask_applicant(session: Session, principal: Principal, case_no: str, reason: str,
                     at: datetime) -> dict[str, str]:
    """Return the applicant's full personal data for one view, and log it (查看完整信息, R-6.4.3)."""
    if not principal.can_unmask:
        raise Forbidden("您没有查看完整个人信息的权限")
    if not may_see_case(session, principal, case_no):
        raise NotFound(f"案件 {case_no} 不存在或不在您的权限范围内")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("请填写查看原因", {"reason": ["请填写查看完整信息的原因"]})
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidData("查看原因过长", {"reason": [f"长度不能超过 {MAX_REASON_LENGTH} 个字符"]})
    application = _application(session, case_no)
    audit(session, principal.username, "unmask", at, target=case_no, reason=reason)
    return {"name": application.applicant_name, "id_number": application.id_number, "phone": application.phone,
            "address": application.address or ""}


def attachment_for_download(session: Session, principal: Principal, case_no: str, attachment_id: int,
                            at: datetime) -> dict[str, Any]:
    """An attachment of a visible case (filename, type, stored name); the download is logged."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_no != case_no or not may_see_case(session, principal, case_no):
        raise NotFound("材料不存在或不在您的权限范围内")
    if not _SHA256_RE.match(attachment.sha256):
        raise NotFound("材料文件缺失")
    audit(session, principal.username, "attachment_download", at, target=case_no, attachment=attachment_id)
    return {"filename": attachment.filename, "content_type": attachment.content_type,
            "stored_name": attachment.sha256, "size": attachment.size}


# -- assignment -------------------------------------------------------------------------------


def assignable_users(session: Session, task: Mapping[str, Any]) -> list[dict[str, str]]:
    """Active users of the task's candidate-group organisations/roles who could work it (指派候选)."""
    groups = sorted(task["candidate_groups"])
    if not groups:
        return []
    users = session.scalars(select(User).where(
        User.active.is_(True),
        or_(User.org_code.in_(groups), User.roles.any(UserRole.role.in_(groups)))).order_by(User.username))
    unclaimed = {**task, "assignee": None}
    result = []
    for user in users:
        who = principal_of(session, user)
        if scoping.may_see_task(who, unclaimed) and scoping.may_work_task(who, unclaimed):
            result.append({"username": user.username, "display_name": user.display_name, "org": user.org_code})
    return result
