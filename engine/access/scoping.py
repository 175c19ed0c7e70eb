"""Who may see and do what (R-6.4.3 least privilege): the one place every list, page, API call, export
and action asks. A case or task outside a user's scope is reported as not found.

Seeing:
- center officers, administrators and analysts see the whole county;
- window clerks see the cases of their own area (a county-level clerk sees the county);
- field staff see the cases of their township (with its villages) or their village;
- a department sees the cases dispatched to it; the joint-conference office the cases it handled;
- the 12345 integration account sees the cases that came from 12345;
- tasks are visible to their candidate groups and their assignee (and to center/admin), and whoever
  sees a task also sees its case. A township's members are candidates for its villages' tasks too
  (`Principal.groups`), so township field staff see and work the field tasks of their villages.
- a complaint about a person (投诉, R-6.3.6) is never theirs to see or work, whatever their role: its
  tasks carry the person in their context (`EXCLUDED_USER`) and every check below refuses them.

Doing: `may(principal, action)` / `require(principal, action)` for the actions of `ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, Select, and_, exists, false, or_, select, true, union
from sqlalchemy.orm import Session

from engine import db
from engine.access.principals import GROUP_ORG_KINDS, Principal, principal_of
from engine.dashboard import facts as slices  # the tally's slice kinds (`fact_scope`)
from engine.errors import Forbidden, NotFound
from engine.i18n import _l
from engine.models import User
from engine.status import USER_GROUP
from engine.tables import (
    APPLICATION,
    CASE_FACT,
    COMPLAINT,
    DEPT_FACT,
    HOTLINE,
    INSTANCE,
    ORGS,
    RATING,
    RATING_SUBJECT,
    ROLES,
    TASK,
    TASK_GROUP,
    USERS,
)

COUNTY_WIDE = ("center", "admin", "analyst")
STAFF_ROLES = ("clerk", "center", "joint_office", "department", "field", "designer", "admin", "analyst")
# Organisations whose clerks register applications at their own window level.
WINDOW_LEVELS = {"center": "county", "township": "township", "village": "village"}
# The task context key naming the person a complaint is about: never a viewer or worker of its tasks.
EXCLUDED_USER = "excluded_user"


def complaint_channels(principal: Principal) -> tuple[str, ...]:
    """Where this user registers complaints (投诉登记): a window clerk at the window, a center officer from the
    监督投诉电话; nowhere for anyone else."""
    found = ["window"] if principal.has("clerk") and principal.org_kind in WINDOW_LEVELS else []
    return (*found, *(["phone"] if principal.has("center") else []))


# -- actions -----------------------------------------------------------------------------------

def _roles(*roles: str) -> Callable[[Principal], bool]:
    return lambda who: who.has(*roles)


# Action → (who may, the refusal). Pages and API endpoints ask for one of these, never for roles.
ACTIONS: dict[str, tuple[Callable[[Principal], bool], str]] = {
    "work_tasks": (_roles(*STAFF_ROLES), _l("接口账号无权访问工作人员的待办任务")),
    "register": (lambda who: who.has("clerk") and who.org_kind in WINDOW_LEVELS and who.org_active,
                 _l("仅窗口工作人员可以登记（已停用机构的窗口不再受理）")),
    "design": (_roles("designer", "admin"), _l("仅流程设计人员和系统管理员可以设计和部署流程")),
    "inspect": (_roles("admin"), _l("仅系统管理员可以查看和管理流程实例")),
    "heat": (_roles("admin", "designer", "analyst"), _l("无权查看办理热力图")),
    "calendar": (_roles("admin"), _l("仅系统管理员可以查看工作日历")),
    "catalog": (_roles(*STAFF_ROLES), _l("接口账号无权查看事项清单页面")),
    "catalog_edit": (_roles("admin"), _l("仅系统管理员可以修改事项清单")),
    "notices_admin": (_roles("admin"), _l("仅系统管理员可以管理救助公示")),
    "org_edit": (_roles("admin"), _l("仅系统管理员可以查看和修改机构的窗口信息")),
    "users_admin": (_roles("admin"), _l("仅系统管理员可以查看和管理用户账号")),
    "tokens_admin": (_roles("admin"), _l("仅系统管理员可以签发、查看和吊销接口令牌")),
    "bulk_assign": (lambda who: who.has("admin") or (who.is_supervisor and who.has(*STAFF_ROLES)),
                    _l("仅主管和系统管理员可以批量指派或退回任务")),
    "devices": (_roles("admin"), _l("仅系统管理员可以登记、查看和停用窗口的现场评价设备")),
    # 补正 at any window: the applicant may bring the papers to any level's window
    "attach_supplement": (lambda who: who.has("clerk") and who.org_kind in WINDOW_LEVELS,
                          _l("仅受理窗口工作人员可以代申请人上传补正材料")),
    "deliveries": (_roles("admin"), _l("仅系统管理员可以查看和重发失败的通知")),
    "content": (_roles("admin"), _l("仅系统管理员可以编辑门户内容（政策法规、中心简介等）")),
    "unmask": (lambda who: who.can_unmask, _l("您没有查看完整个人信息的权限")),
    "hotline_push": (_roles("integration"), _l("仅 12345 平台接口账号可以推送工单")),
    "feedback_stats": (_roles(*COUNTY_WIDE, "department", "clerk", "field", "joint_office"),
                       _l("无权查看好差评统计")),
    "hotline_read": (_roles("integration", "admin"), _l("仅 12345 平台接口账号和系统管理员可以查询工单")),
    # 电子档案 (R-6.1.2.2): the county-wide roles, and a department for the cases it handled (`check_case`)
    "archive_read": (_roles(*COUNTY_WIDE, "department"), _l("无权查看电子档案")),
    "archive_rebuild": (_roles("admin"), _l("仅系统管理员可以重新归档")),
    "complaint_register": (lambda who: bool(complaint_channels(who)),
                           _l("仅受理窗口工作人员和县社会救助中心工作人员可以登记投诉")),
    # 意见簿: a clerk types in what was written on paper in the hall; the center answers
    "suggestion_enter": (lambda who: who.has("clerk") and who.org_kind in WINDOW_LEVELS,
                         _l("仅受理窗口工作人员可以录入纸质意见簿")),
    "suggestions_answer": (_roles("center"), _l("仅县社会救助中心工作人员可以查看和答复意见簿")),
    "audit": (_roles("admin"), _l("仅系统管理员可以查看和导出审计日志")),
    # 案件导出: those who report on cases — the center, analysts, administrators (the county) and a
    # department (the cases it handled, by `case_filter`); window clerks and field staff query but do not export
    "case_export": (_roles("center", "analyst", "department", "admin"),
                    _l("仅县社会救助中心、统计分析人员、联动部门和系统管理员可以导出案件")),
    # 数据汇聚展示: each sees the figures of the cases they may see (`fact_filter`)
    "dashboard": (_roles(*COUNTY_WIDE, "department", "field", "clerk"), _l("无权查看数据看板")),
}


def may(principal: Principal, action: str) -> bool:
    """True when `principal` may do `action` (a key of ACTIONS)."""
    return ACTIONS[action][0](principal)


def require(principal: Principal, action: str) -> None:
    """Raise Forbidden (with the Chinese reason) unless `principal` may do `action`."""
    if not may(principal, action):
        raise Forbidden(ACTIONS[action][1])


def window_level(principal: Principal) -> str:
    """The level (county/township/village) at which this clerk registers; Forbidden for anyone else."""
    require(principal, "register")
    return WINDOW_LEVELS[principal.org_kind]


def home_region(principal: Principal) -> dict[str, str]:
    """The region a window clerk's form starts with: their own village or township (the county: none)."""
    if principal.org_kind == "village":
        return {"township": principal.org_parent or "", "village": principal.org_code}
    if principal.org_kind == "township":
        return {"township": principal.org_code, "village": ""}
    return {"township": "", "village": ""}


# -- seeing tasks and cases ---------------------------------------------------------------------

def _task_groups_match(groups: frozenset[str]) -> ColumnElement[bool]:
    return exists(select(TASK_GROUP.c.task_id).where(
        TASK_GROUP.c.task_id == TASK.c.id, TASK_GROUP.c.group_code.in_(sorted(groups))))


def _not_excluded(principal: Principal) -> ColumnElement[bool]:
    excluded = TASK.c.context[EXCLUDED_USER].as_string()
    return or_(excluded.is_(None), excluded != principal.username)


def task_filter(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on human_task: the tasks this user may see."""
    if principal.has("center", "admin"):
        return _not_excluded(principal)
    if not principal.has(*STAFF_ROLES):
        return false()
    # Any member of staff sees what is addressed to them (a candidate user, the assignee, the
    # starter of a process whose task names no one); the linkage flow's groups stay as they were.
    return and_(or_(_task_groups_match(principal.groups), TASK.c.assignee == principal.username),
                _not_excluded(principal))


# The inbox index (`inbox_entry`) files each open task under viewer keys; a user's inbox is the entries
# under their keys. The two functions below are `task_filter` in that form and must say the same.
ALL_TASKS = "*"  # every open task: what the center and administrators see
ASSIGNEE_KEY = "assignee:"  # the task's holder
EXCLUDED_KEY = "excluded:"  # the person a complaint is about: their inbox leaves out what is filed here


def entry_keys(candidate_groups: Iterable[str], assignee: str | None, excluded: str | None = None) -> list[str]:
    """The viewer keys an open task is filed under: everyone's (the center's), each candidate group's
    and its assignee's; and the key of the one person it is kept from (`EXCLUDED_USER`)."""
    keys = [ALL_TASKS, *candidate_groups, *([f"{ASSIGNEE_KEY}{assignee}"] if assignee else []),
            *([f"{EXCLUDED_KEY}{excluded}"] if excluded else [])]
    return list(dict.fromkeys(keys))


def excluded_key(principal: Principal) -> str:
    """The viewer key of the tasks this user's inbox must leave out (see `entry_keys`)."""
    return f"{EXCLUDED_KEY}{principal.username}"


def inbox_keys(principal: Principal, mine: bool = False) -> list[str]:
    """The viewer keys of this user's inbox (`mine`: only the tasks they hold) — `task_filter` as keys."""
    if not principal.has(*STAFF_ROLES):
        return []
    own = f"{ASSIGNEE_KEY}{principal.username}"
    if mine:
        return [own]
    if principal.has("center", "admin"):
        return [ALL_TASKS]
    return sorted(principal.groups | {own})


def _region(principal: Principal, cases: FromClause = APPLICATION) -> ColumnElement[bool]:
    if principal.org_kind == "township":
        return cases.c.township == principal.org_code
    if principal.org_kind == "village":
        return cases.c.village == principal.org_code
    return true() if principal.org_kind == "center" else false()


def handled_by(group: str) -> ColumnElement[bool]:
    """SQL on application: a task of the case was offered to `group` (a department, the joint office)."""
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
        clauses.append(handled_by(principal.org_code))
    if principal.has("joint_office"):
        clauses.append(handled_by("joint_office"))
    if principal.has("integration"):
        clauses.append(exists(select(HOTLINE.c.order_no).where(HOTLINE.c.case_no == APPLICATION.c.case_no)))
    # Whoever may see one of a case's tasks (e.g. its assignee) may see the case it belongs to.
    clauses.append(exists(select(TASK.c.id).where(TASK.c.case_no == APPLICATION.c.case_no, task_filter(principal))))
    return or_(*clauses)


# The fact tables inside a scope's subqueries, aliased: they must not correlate to a chart's own case_fact or
# dept_fact.
_CASES, _GROUPS = CASE_FACT.alias("scope_case"), DEPT_FACT.alias("scope_group")


def _fact_groups(principal: Principal) -> set[str]:
    groups = set(principal.groups)
    groups |= {principal.org_code} if principal.has("department") else set()
    groups |= {"joint_office"} if principal.has("joint_office") else set()
    return groups


def _elsewhere(table: FromClause, township: str) -> list[ColumnElement[bool]]:
    """Another township than this one, as two ranges: each, with its other conditions, is one index read
    (`!=` reads the township's rows too; an OR of the two leaves a planner a township filter on every row)."""
    return [table.c.township < township, table.c.township > township]


def _fact_others(principal: Principal, groups: Iterable[str], region: bool = False,
                 outside: str | None = None, within: str = "") -> ColumnElement[bool]:
    """SQL on case_fact: the cases of these groups' tasks, those registered at a clerk's window (and with
    `region` those of its township or village), those with a task assigned to the user — one union of index
    reads, which a planner drives from (a region's cases are thousands, the others few). `outside`: only
    those of another township than this one; `within`: only those of this township (each read narrowed by
    its index; the few assigned ones are not). A village's union (a few thousand cases) is read first, as one
    array (`db.InFewOf`): PostgreSQL took it for five times its rows and joined it to a far larger range."""
    def narrowed(table: FromClause, *where: ColumnElement[bool]) -> list[Select[Any]]:
        ranges = _elsewhere(table, outside) if outside else [true()]
        return [select(table.c.case_no).where(*where, township, *([table.c.township == within] if within else []))
                for township in ranges]

    sets: list[Select[Any]] = []
    if region:
        sets += narrowed(_CASES, _region(principal, _CASES))
    if principal.has("clerk", "field"):
        sets += narrowed(_CASES, _CASES.c.registered_org == principal.org_code)
    if groups:
        sets += narrowed(_GROUPS, _GROUPS.c.group_code.in_(sorted(groups)))
    sets.append(select(TASK.c.case_no).where(TASK.c.assignee == principal.username, _not_excluded(principal)))
    if region and principal.org_kind == "village":  # a village's few thousand cases: read them first
        return db.InFewOf(CASE_FACT.c.case_no, union(*sets))
    return CASE_FACT.c.case_no.in_(union(*sets))


def fact_filter(principal: Principal, township: str = "") -> ColumnElement[bool]:
    """SQL predicate on case_fact (the dashboard, `engine.dashboard`): the cases `case_filter` lets this user
    see, said over the fact rows — a group that held a task of the case is its `dept_fact` row, so the
    department, the joint office and a task's candidate groups are one index range each. `township`: the
    caller also asks for that township alone, so each index read is narrowed to it (the same cases then)."""
    if principal.has(*COUNTY_WIDE):
        return true()
    if not principal.has(*STAFF_ROLES):
        return false()  # the 12345 account has no dashboard (`ACTIONS`)
    if not principal.has("clerk", "field"):
        return _fact_others(principal, _fact_groups(principal), within=township)
    if principal.org_kind in ("township", "village"):  # a region: one more index read in the union
        return _fact_others(principal, _fact_groups(principal), region=True, within=township)
    return or_(_region(principal, CASE_FACT), _fact_others(principal, _fact_groups(principal), within=township))


def fact_scope(principal: Principal) -> tuple[str, str, ColumnElement[bool] | None] | None:
    """`fact_filter` split for the dashboard's tally: (slice kind, code, the rest) where the slice (the
    county, a township clerk's township, a department's own cases) holds most of the user's cases and the
    rest (SQL on case_fact, or None) the few others — cases registered at the window elsewhere, or of
    another of the user's groups, or assigned to them. None: the scope is no slice (read the fact rows)."""
    if principal.has(*COUNTY_WIDE):
        return slices.COUNTY, "", None
    if principal.has("department") and not principal.has("clerk", "field", "joint_office"):
        own = principal.org_code
        others = _fact_groups(principal) - {own}
        handled = exists().where(_GROUPS.c.case_no == CASE_FACT.c.case_no, _GROUPS.c.group_code == own)
        return slices.DEPARTMENT, own, and_(_fact_others(principal, others), ~handled)
    if principal.has("clerk", "field") and principal.org_kind == "township" and \
            not principal.has("department", "joint_office"):
        township = principal.org_code
        return slices.TOWNSHIP, township, and_(_fact_others(principal, _fact_groups(principal), outside=township),
                                               CASE_FACT.c.township != township)
    return None


def rating_filter(principal: Principal | None) -> ColumnElement[bool]:
    """SQL predicate on rating: the 好差评 this user may count (R-6.3.6) — the county-wide roles all of
    them (and an operator tool, None), a department those of cases it handled, a window's clerk and
    field staff those their organisation (a township with its villages) registered."""
    if principal is None or principal.has(*COUNTY_WIDE):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.has("department"):
        clauses.append(exists(select(RATING_SUBJECT.c.rating_id).where(
            RATING_SUBJECT.c.rating_id == RATING.c.id, RATING_SUBJECT.c.kind == "department",
            RATING_SUBJECT.c.code == principal.org_code)))
    if principal.has("clerk", "field"):
        clauses.append(RATING.c.org_code.in_(sorted({principal.org_code, *principal.covers})))
    return or_(*clauses) if clauses else false()


def complaint_filter(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on complaint: the complaints this user may read (e.g. count): the county-wide roles every
    one, staff of an organisation those it handles or that are about it (a township: its villages' too);
    never one about the user themself."""
    not_mine = or_(COMPLAINT.c.about_user.is_(None), COMPLAINT.c.about_user != principal.username)
    if principal.has(*COUNTY_WIDE):
        return not_mine
    if not principal.has(*STAFF_ROLES):
        return false()
    orgs = sorted({principal.org_code, *principal.covers})
    return and_(not_mine, or_(COMPLAINT.c.handler_org.in_(orgs), COMPLAINT.c.about_org.in_(orgs)))


def may_see_case(conn: Connection, principal: Principal | None, case_no: str) -> bool:
    """True when the case exists and this user may see it (None: an operator tool, sees all that exists).

    A process started by key (LC…) has no application behind it: the county-wide roles see it, and
    anyone who may see one of its tasks."""
    application = select(APPLICATION.c.case_no).where(APPLICATION.c.case_no == case_no)
    if conn.execute(application).first() is not None:
        return principal is None or conn.execute(application.where(case_filter(principal))).first() is not None
    if conn.execute(select(INSTANCE.c.id).where(INSTANCE.c.case_no == case_no)).first() is None:
        return False
    if principal is not None and conn.execute(select(COMPLAINT.c.id).where(
            COMPLAINT.c.complaint_no == case_no, COMPLAINT.c.about_user == principal.username)).first() is not None:
        return False  # a complaint about this person: never theirs to read
    if principal is None or principal.has(*COUNTY_WIDE):
        return True
    return conn.execute(select(TASK.c.id).where(TASK.c.case_no == case_no, task_filter(principal))).first() is not None


def check_case(conn: Connection, principal: Principal | None, case_no: str) -> None:
    """Raise NotFound unless the case exists and is in the user's scope."""
    if not may_see_case(conn, principal, case_no):
        raise case_not_found(case_no)


def case_not_found(case_no: str) -> NotFound:
    """The one refusal for a case that is unknown or out of scope (the two are not told apart)."""
    return NotFound(f"案件 {case_no} 不存在或不在您的权限范围内")


def excluded_user(task: Mapping[str, Any]) -> str | None:
    """The username a task is kept from (the person a complaint is about), if any."""
    return (task.get("context") or {}).get(EXCLUDED_USER) or None


def is_excluded(principal: Principal, task: Mapping[str, Any]) -> bool:
    """True when the task is about this user (a complaint about them): they may neither see nor work it."""
    return excluded_user(task) == principal.username


def may_see_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """The in-memory twin of `task_filter` for one task row."""
    if is_excluded(principal, task):
        return False
    if principal.has("center", "admin"):
        return True
    if not principal.has(*STAFF_ROLES):
        return False
    return bool(principal.groups.intersection(task["candidate_groups"])) or task["assignee"] == principal.username


def may_work_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """May this user claim or complete the task: a candidate (or its assignee), not held by someone else,
    and not the person it is about."""
    if is_excluded(principal, task):
        return False
    candidate = bool(principal.groups.intersection(task["candidate_groups"]))
    if task["assignee"] not in (None, principal.username):
        return False
    return candidate or task["assignee"] == principal.username


def may_claim_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """May this user take the task as their own (认领): may work it, and their organisation is not 停用."""
    return principal.org_active and may_work_task(principal, task)


def may_assign_task(principal: Principal, task: Mapping[str, Any]) -> bool:
    """Supervisors assign tasks of their organisation's groups; center supervisors and admins any task."""
    if principal.has("admin") or (principal.is_supervisor and principal.has("center")):
        return True
    return principal.is_supervisor and principal.org_code in task["candidate_groups"]


def holds_or_supervises(principal: Principal, task: Mapping[str, Any]) -> bool:
    """May release a task: whoever holds it, or a supervisor who may assign it."""
    return task["assignee"] == principal.username or may_assign_task(principal, task)


def task_actions(principal: Principal, task: Mapping[str, Any], is_open: bool) -> dict[str, bool]:
    """What this user may do with a task now: claim, release, assign, complete."""
    may_work = is_open and may_work_task(principal, task)
    may_assign = is_open and may_assign_task(principal, task)
    held = task["assignee"] is not None
    claim = may_work and not held and principal.org_active
    return {"claim": claim, "release": is_open and held and holds_or_supervises(principal, task),
            "assign": may_assign, "complete": may_work}


def check_task_access(principal: Principal | None, task: Mapping[str, Any], allowed: Any) -> None:
    """Raise NotFound outside the principal's scope, Forbidden when `allowed` says no (None: operator)."""
    if principal is None:
        return
    if not may_see_task(principal, task):
        raise NotFound("任务不存在或不在您的权限范围内")
    if allowed is not None and not allowed(principal, task):
        raise Forbidden("您无权办理此任务（可能已由他人认领）")


# -- who belongs to a group ---------------------------------------------------------------------

def members_clause(groups: Iterable[str]) -> ColumnElement[bool]:
    """SQL on app_user: active users who are candidates of any of `groups`, as `Principal.groups` says."""
    codes = sorted(set(groups))
    group_orgs = select(ORGS.c.code).where(ORGS.c.code.in_(codes), ORGS.c.kind.in_(GROUP_ORG_KINDS))
    covering = select(ORGS.c.parent_code).where(ORGS.c.code.in_(codes), ORGS.c.kind == "village")
    named = [code[len(USER_GROUP):] for code in codes if code.startswith(USER_GROUP)]
    return and_(USERS.c.active.is_(True), or_(
        USERS.c.org_code.in_(group_orgs), USERS.c.org_code.in_(covering), USERS.c.username.in_(named),
        USERS.c.id.in_(select(ROLES.c.user_id).where(ROLES.c.role.in_(codes)))))


def is_active_staff(session: Session, username: str) -> bool:
    """True when `username` is an active user holding a staff role (not an integration account)."""
    return session.execute(select(USERS.c.id).where(
        USERS.c.username == username, USERS.c.active.is_(True),
        USERS.c.id.in_(select(ROLES.c.user_id).where(ROLES.c.role.in_(STAFF_ROLES))))).first() is not None


def error_watchers_clause() -> ColumnElement[bool]:
    """SQL on app_user: who is told when a case stops in error — the center's supervisors and the
    administrators (active users only)."""
    role_holders = select(ROLES.c.user_id).where(ROLES.c.role == "admin")
    center = select(ROLES.c.user_id).where(ROLES.c.role == "center")
    return and_(USERS.c.active.is_(True), or_(USERS.c.id.in_(role_holders),
                                              and_(USERS.c.is_supervisor.is_(True), USERS.c.id.in_(center))))


def administrators_clause() -> ColumnElement[bool]:
    """SQL on app_user: the active administrators (told when the audit log fails its daily check)."""
    return and_(USERS.c.active.is_(True), USERS.c.id.in_(select(ROLES.c.user_id).where(ROLES.c.role == "admin")))


def candidates(session: Session, task: Mapping[str, Any]) -> list[Principal]:
    """Active users who may work the task if it were unclaimed (指派候选), by username."""
    groups = list(task["candidate_groups"])
    if not groups:
        return []
    users = session.scalars(select(User).where(User.id.in_(select(USERS.c.id).where(members_clause(groups))))
                            .order_by(User.username))
    unclaimed = {**task, "assignee": None}
    found = [principal_of(session, user) for user in users]
    return [who for who in found if may_see_task(who, unclaimed) and may_work_task(who, unclaimed)]


def is_candidate(session: Session, username: str, task: Mapping[str, Any]) -> bool:
    """True when `username` is an active user in one of the task's candidate groups (and not the person a
    complaint is about)."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        return False
    who = principal_of(session, user)
    if not who.org_active:  # a deactivated organisation's users take no new work
        return False
    return bool(who.groups.intersection(task["candidate_groups"])) and not is_excluded(who, task)
