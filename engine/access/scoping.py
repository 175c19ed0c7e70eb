"""Who may see and act on what (R-6.4.3 least privilege). Every list, page, API call and export
filters through these predicates; a case or task outside them is reported as not found.

- center officers, administrators and analysts see the whole county;
- window clerks see the cases of their own area (a county-level clerk sees the county);
- field staff see the cases of their township (with its villages) or their village;
- a department sees the cases dispatched to it; the joint-conference office the cases it handled;
- the 12345 integration account sees the cases that came from 12345;
- tasks are visible to their candidate groups and their assignee (and to center/admin), and whoever
  sees a task also sees its case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from engine.access.accounts import Principal, principal_of
from engine.cases.store import TASK, TASK_GROUP
from engine.errors import Forbidden, NotFound
from engine.models import Application, HotlineOrder, User

APPLICATION = Application.__table__
HOTLINE = HotlineOrder.__table__
COUNTY_WIDE = ("center", "admin", "analyst")


def _task_groups_match(groups: frozenset[str]) -> ColumnElement[bool]:
    return exists(select(TASK_GROUP.c.task_id).where(
        TASK_GROUP.c.task_id == TASK.c.id, TASK_GROUP.c.group_code.in_(sorted(groups))))


def task_filter(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on human_task: the tasks this user may see."""
    if principal.has("center", "admin"):
        return true()
    if not principal.has("department", "field", "joint_office", "clerk"):
        return false()
    return or_(_task_groups_match(principal.groups), TASK.c.assignee == principal.username)


def _region(principal: Principal) -> ColumnElement[bool]:
    if principal.org_kind == "township":
        return APPLICATION.c.township == principal.org_code
    if principal.org_kind == "village":
        return APPLICATION.c.village == principal.org_code
    return true() if principal.org_kind == "center" else false()


def _handled_by(group: str) -> ColumnElement[bool]:
    return exists(select(TASK.c.id).join(TASK_GROUP, TASK_GROUP.c.task_id == TASK.c.id).where(
        TASK.c.case_no == APPLICATION.c.case_no, TASK_GROUP.c.group_code == group))


def case_filter(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on application: the cases this user may see."""
    if principal.has(*COUNTY_WIDE):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.has("clerk", "field"):
        clauses.append(or_(_region(principal), APPLICATION.c.registered_org == principal.org_code))
    if principal.has("department"):
        clauses.append(_handled_by(principal.org_code))
    if principal.has("joint_office"):
        clauses.append(_handled_by("joint_office"))
    if principal.has("integration"):
        clauses.append(exists(select(HOTLINE.c.order_no).where(HOTLINE.c.case_no == APPLICATION.c.case_no)))
    # Whoever may see one of a case's tasks (e.g. its assignee) may see the case it belongs to.
    clauses.append(exists(select(TASK.c.id).where(TASK.c.case_no == APPLICATION.c.case_no, task_filter(principal))))
    return or_(*clauses)


def may_see_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """The in-memory twin of `task_filter` for one task row."""
    if principal.has("center", "admin"):
        return True
    if not principal.has("department", "field", "joint_office", "clerk"):
        return False
    return bool(principal.groups.intersection(task["candidate_groups"])) or task["assignee"] == principal.username


def may_work_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """May this user claim or complete the task: a candidate (or its assignee), not held by someone else."""
    candidate = bool(principal.groups.intersection(task["candidate_groups"]))
    if task["assignee"] not in (None, principal.username):
        return False
    return candidate or task["assignee"] == principal.username


def may_assign_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """Supervisors assign tasks of their organisation's groups; center supervisors and admins any task."""
    if principal.has("admin") or (principal.is_supervisor and principal.has("center")):
        return True
    return principal.is_supervisor and principal.org_code in task["candidate_groups"]


def case_visible_clause(principal: Principal, case_no: str) -> Any:
    """A select of the case's application row if this user may see it (for existence checks)."""
    return select(APPLICATION.c.case_no).where(and_(APPLICATION.c.case_no == case_no, case_filter(principal)))


def holds_or_supervises(principal: Principal, task: Mapping[str, Any]) -> bool:
    """May release a task: whoever holds it, or a supervisor who may assign it."""
    return task["assignee"] == principal.username or may_assign_task(principal, task)


def is_candidate(session: Session, username: str, task: Mapping[str, Any]) -> bool:
    """True when `username` is an active user in one of the task's candidate groups."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    return user is not None and bool(principal_of(session, user).groups.intersection(task["candidate_groups"]))


def check_task_access(principal: Principal | None, task: Mapping[str, Any], allowed: Any) -> None:
    """Raise NotFound outside the principal's scope, Forbidden when `allowed` says no (None: operator)."""
    if principal is None:
        return
    if not may_see_task(principal, task):
        raise NotFound("任务不存在或不在您的权限范围内")
    if allowed is not None and not allowed(principal, task):
        raise Forbidden("您无权办理此任务（可能已由他人认领）")
