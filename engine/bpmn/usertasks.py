"""Who does a user task, by when, on which form — read the way Camunda 7 and SpiffArena files write it.

- **Who**: `camunda:candidateGroups` (role or organisation codes, `${expr}` evaluated in the sandbox),
  else the lane the task sits in (SpiffArena: the lane names the group, by code or by the
  organisation's or role's name); `camunda:candidateUsers` (usernames, each a group `user:<name>`);
  `camunda:assignee` (a username or `${expr}`). A task with none of these goes to the staff user
  who started the process (`STARTER` in the process data), else to the process's `defaultGroup`.
- **By when**: the `dueWorkdays` property (working days, our own) or `camunda:dueDate` (an ISO 8601
  date or date-time, a duration such as `P3D`/`PT4H`, or `${expr}`); else the process's
  `dueWorkdays` property; else no deadline, with a warning at validate.
- **Form**: `camunda:formKey` naming a file in `forms/`; without one the generic completion form
  (`GENERIC_FORM`: a comment, and a choice among the outgoing flows of the gateway that follows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn.sandbox import expression_errors
from engine.deadlines.policy import MAX_DUE_WORKDAYS

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
GENERIC_FORM = "generic"
STARTER = "started_by"

_EXPRESSION = re.compile(r"^\$\{(.+)\}$", re.S)
_JUEL = re.compile(r"^\s*[#$]\{.*\}\s*$", re.S)
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")


def split_list(raw: str) -> tuple[str, ...]:
    """Split a comma-separated Camunda attribute, keeping `${...}` expressions whole."""
    parts, depth, current = [], 0, ""
    for char in raw:
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(p for p in parts if p)


def expression_of(value: str) -> str | None:
    """The Python expression inside `${...}`, or None for a literal."""
    match = _EXPRESSION.match(value.strip())
    return match.group(1).strip() if match else None


def is_juel(text: str) -> bool:
    """True for a Camunda JUEL expression (`${score > 5}`, `#{bean}`) where the engine wants Python."""
    return bool(_JUEL.match(text or ""))


@dataclass(frozen=True)
class UserTaskMeta:
    """What the engine reads from a user task: name, form, who may do it and its deadline."""

    id: str
    name: str
    form_key: str
    candidate_groups: tuple[str, ...]
    due_workdays: int | None
    candidate_users: tuple[str, ...] = ()
    assignee: str | None = None
    due_date: str | None = None
    default_group: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def unassigned(self) -> bool:
        """No group, user or assignee named: the task goes to the starter (else the default group)."""
        return not (self.candidate_groups or self.candidate_users or self.assignee)


@dataclass
class ReadContext:
    """What reading a process's user tasks needs: known forms and group names, the process defaults."""

    known_forms: set[str]
    groups: Mapping[str, str]  # a role or organisation code, or its display name → the code
    lanes: dict[str, str] = field(default_factory=dict)  # task id → the name of its innermost lane
    default_group: str | None = None
    default_workdays: int | None = None


Finding = tuple[str, str]  # (severity "error" | "warning", message)


def lanes_of(process: etree._Element) -> dict[str, str]:
    """Task id → the name of the innermost lane holding it."""
    found: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            if ref.text and lane.get("name"):
                found[ref.text.strip()] = lane.get("name", "").strip()
    return found


def read_user_task(task: etree._Element, properties: Mapping[str, str],
                   context: ReadContext) -> tuple[UserTaskMeta, list[Finding]]:
    """Read one user task; return its metadata and what is wrong with it (errors refuse deploy)."""
    findings: list[Finding] = []
    form_key = _camunda(task, "formKey") or ""
    if form_key and form_key not in context.known_forms:
        findings.append(("error", f"表单 {form_key!r} 不存在（forms/ 目录中没有 {form_key}.json）"))
    groups = _groups(task, context, findings)
    users = split_list(_camunda(task, "candidateUsers") or "")
    assignee = (_camunda(task, "assignee") or "").strip() or None
    for user in (*users, *([assignee] if assignee else [])):
        _check_user(user, findings)
    workdays, due_date = _deadline(task, properties, context, findings)
    meta = UserTaskMeta(task.get("id", ""), task.get("name") or task.get("id", ""), form_key or GENERIC_FORM, groups,
                        workdays, users, assignee, due_date, context.default_group,
                        () if form_key else _choices(task))
    if meta.unassigned and not context.default_group:
        findings.append(("warning", "未指定办理人（候选组、泳道、候选人或 assignee）：将交给发起流程的工作人员；"
                                    "若流程由系统启动，请在流程属性 defaultGroup 中指定默认组"))
    return meta, findings


def _camunda(element: etree._Element, name: str) -> str | None:
    return element.get(f"{{{CAMUNDA_NS}}}{name}")


def _groups(task: etree._Element, context: ReadContext, findings: list[Finding]) -> tuple[str, ...]:
    raw = split_list(_camunda(task, "candidateGroups") or "")
    if not raw and task.get("id") in context.lanes:
        lane = context.lanes[task.get("id", "")]
        if lane in context.groups:
            return (context.groups[lane],)
        findings.append(("error", f"泳道「{lane}」不是角色或机构（泳道名应为角色、机构的代码或名称）"))
        return ()
    groups = []
    for group in raw:
        expression = expression_of(group)
        if expression is not None:
            findings += [("error", f"候选组表达式 {group!r} 无法通过沙箱编译：{e}")
                         for e in expression_errors(expression)]
            groups.append(group)
        elif group in context.groups:
            groups.append(context.groups[group])
        else:
            findings.append(("error", f"未知的候选组 {group!r}（应为角色代码或机构代码）"))
            groups.append(group)
    return tuple(groups)


def _check_user(user: str, findings: list[Finding]) -> None:
    expression = expression_of(user)
    if expression is not None:
        findings += [("error", f"办理人表达式 {user!r} 无法通过沙箱编译：{e}") for e in expression_errors(expression)]
    elif not _USERNAME.match(user):
        findings.append(("error", f"办理人 {user!r} 不是有效的用户名"))


def _deadline(task: etree._Element, properties: Mapping[str, str], context: ReadContext,
              findings: list[Finding]) -> tuple[int | None, str | None]:
    raw = properties.get("dueWorkdays")
    if raw is not None:
        return checked_workdays(raw, findings), None
    due_date = (_camunda(task, "dueDate") or "").strip()
    if due_date:
        problem = due_date_problem(due_date)
        if problem:
            findings.append(("error", problem))
        return None, due_date
    if context.default_workdays is not None:
        return context.default_workdays, None
    findings.append(("warning", "用户任务没有办理时限（dueWorkdays 或 camunda:dueDate），流程也未设默认时限："
                                "不会超期提醒"))
    return None, None


def checked_workdays(raw: str, findings: list[Finding]) -> int | None:
    """A dueWorkdays value, or None with an error when it is not 0…MAX_DUE_WORKDAYS."""
    if not raw.strip().isdigit() or not 0 <= int(raw) <= MAX_DUE_WORKDAYS:
        findings.append(("error", f"dueWorkdays 应为 0 到 {MAX_DUE_WORKDAYS} 之间的整数，实际为 {raw!r}"))
        return None
    return int(raw)


def due_date_problem(value: str) -> str | None:
    """Why `camunda:dueDate` cannot be used (None when it is a date, a duration or a sandboxed expression)."""
    expression = expression_of(value)
    if expression is not None:
        errors = expression_errors(expression)
        return f"办理期限表达式 {value!r} 无法通过沙箱编译：{errors[0]}" if errors else None
    if fixed_due(value) is None and duration(value) is None:
        return f"camunda:dueDate 应为 ISO 8601 日期、时长（如 P3D、PT4H）或 ${{表达式}}，实际为 {value!r}"
    return None


def fixed_due(value: str) -> datetime | None:
    """An ISO 8601 date-time, or a date (due at the end of that day), or None. Naive is Beijing time."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return datetime(day.year, day.month, day.day, 23, 59, 59)


MAX_DUE_SPAN = timedelta(days=3660)


def duration(value: str, start: datetime | None = None) -> timedelta | None:
    """An ISO 8601 duration (P3D, PT4H, P1M…) from `start` (months have their lengths), or None when it
    is not one or is longer than MAX_DUE_SPAN (about ten years)."""
    if not value.upper().startswith("P"):
        return None
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
        if parsed.get("years", 0) * 12 + parsed.get("months", 0) > 120:
            return None
        span: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, start or datetime.now().astimezone())
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises several kinds on a malformed duration
        return None
    return span if timedelta(0) <= span <= MAX_DUE_SPAN else None


def due_from_value(value: Any, at: datetime) -> datetime | None:
    """The due moment an evaluated `${expr}` stands for: a datetime, a date, a timedelta or ISO text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 23, 59, 59)
    if isinstance(value, timedelta):
        return at + value
    if isinstance(value, str):
        found = fixed_due(value)
        if found is not None:
            return found
        span = duration(value, at)
        return at + span if span is not None else None
    return None


def _choices(task: etree._Element) -> tuple[str, ...]:
    """The named outgoing flows of the exclusive gateway right after `task` (the generic form offers them)."""
    process = next((a for a in task.iterancestors() if a.get("id")), None)
    if process is None:
        return ()
    flows = {f.get("id"): f for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    after = [f.get("targetRef") for f in flows.values() if f.get("sourceRef") == task.get("id")]
    gateways = {g.get("id") for g in process.iter(f"{{{BPMN_NS}}}exclusiveGateway")}
    if len(after) != 1 or after[0] not in gateways:
        return ()
    return tuple(f.get("name") or f.get("id") or "" for f in flows.values() if f.get("sourceRef") == after[0])
