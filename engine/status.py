"""The status vocabulary (案件状态): every status a case and a human task can have, in one place.

For each case status: its Chinese label (English through the catalog), what the applicant is
shown, the instance list's filter it belongs to, whether it is final, why its tasks cannot be
worked (if they cannot), and which administrator actions it allows. The engine, the pages, the
API's OpenAPI document and the 12345 interface all read it from here. The portal's content (政策法规,
中心简介), the electronic archive (电子化归档), 好差评, complaints and the comment book have
theirs at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.i18n import _l

OPEN, SUSPENDED, ERROR, TERMINATED = "open", "suspended", "error", "terminated"
CLOSED_COMPLETED, CLOSED_DECLINED = "closed_completed", "closed_declined"

# Administrator actions on a case (流程实例管理) and the verb each is refused with.
ADMIN_ACTIONS = {"suspend": _l("挂起"), "resume": _l("恢复"), "terminate": _l("终止"), "migrate": _l("迁移"),
                 "reassign": _l("改派"), "retry": _l("重试")}


@dataclass(frozen=True)
class CaseStatus:
    """One case status and what it means for everyone who meets it."""

    code: str
    label: str
    filter: str  # the instance list's status filter (办理中, 办结, …)
    final: bool  # the case is over: nothing runs, nothing can be changed
    actions: frozenset[str]  # administrator actions allowed in this status
    halted: str | None = None  # why tasks cannot be worked now (None: they can)
    public_label: str | None = None  # what the applicant sees (None: in progress, 受理中/办理中)


CASE_STATUSES: dict[str, CaseStatus] = {s.code: s for s in (
    CaseStatus(OPEN, _l("办理中"), "running", False,
               frozenset({"suspend", "terminate", "migrate", "reassign"})),
    CaseStatus(SUSPENDED, _l("已挂起"), "suspended", False, frozenset({"resume", "terminate", "migrate"}),
               halted=_l("案件已挂起，暂停办理，请待管理员恢复后再办理")),
    CaseStatus(ERROR, _l("流程出错"), "error", False, frozenset({"terminate", "migrate", "retry"}),
               halted=_l("案件流程执行出错，已转管理员处理，请待修复后再办理")),
    CaseStatus(CLOSED_COMPLETED, _l("办结"), "completed", True, frozenset(), public_label=_l("办结")),
    CaseStatus(CLOSED_DECLINED, _l("不予受理"), "declined", True, frozenset(), public_label=_l("不予受理")),
    CaseStatus(TERMINATED, _l("已终止"), "terminated", True, frozenset(),
               halted=_l("案件已终止，任务已取消，无需办理"), public_label=_l("已终止")),
)}

# 待补正: an open case waiting for the applicant's supplement (process_instance.supplement_since)
SUPPLEMENT_LABEL = _l("待补正")

# What an end event of a process may set through its `caseStatus` property.
END_STATUSES = (CLOSED_COMPLETED, CLOSED_DECLINED)
# The instance list's status filter: key → (label, statuses).
FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    s.filter: (s.label, tuple(c for c, o in CASE_STATUSES.items() if o.filter == s.filter))
    for s in CASE_STATUSES.values()}


def filter_statuses(key: str) -> tuple[str, ...]:
    """The statuses a status filter's key stands for (none for an unknown key)."""
    return FILTERS.get(key, ("", ()))[1]


def label(code: str) -> str:
    """The Chinese label of a case status (the code itself for one this vocabulary lacks)."""
    status = CASE_STATUSES.get(code)
    return status.label if status else code


def allows(code: str, action: str) -> bool:
    """True when a case in status `code` allows the administrator action `action`."""
    status = CASE_STATUSES.get(code)
    return status is not None and action in status.actions


def allowed_actions(code: str) -> dict[str, bool]:
    """Every administrator action with whether a case in status `code` allows it (for pages)."""
    return {action: allows(code, action) for action in ADMIN_ACTIONS}


def halted_message(code: str) -> str | None:
    """Why tasks of a case with this status may not be worked, or None when they may."""
    status = CASE_STATUSES.get(code)
    return status.halted if status else None


def is_final(code: str) -> bool:
    """True when a case in this status is over."""
    status = CASE_STATUSES.get(code)
    return status is not None and status.final


def public_label(code: str, worked: bool) -> str:
    """What the applicant sees (进度查询): the outcome once final, else 办理中 / 受理中."""
    status = CASE_STATUSES.get(code)
    if status is not None and status.public_label:
        return status.public_label
    return _l("办理中") if worked else _l("受理中")


# Human tasks (the inbox mirror): the states a row can be in.
READY, COMPLETED, CANCELLED = "READY", "COMPLETED", "CANCELLED"
TASK_STATES = {READY: _l("待办"), COMPLETED: _l("已办结"), CANCELLED: _l("已取消")}


def task_state_label(code: str) -> str:
    """The Chinese label of a human task's state."""
    return TASK_STATES.get(code, code)

# A candidate group naming one user (camunda:candidateUsers, a task's starter): `user:<username>`.
USER_GROUP = "user:"

# The key of the linkage flow of Figure 1 (processes/relief_linkage.bpmn): what applications start on.
LINKAGE_PROCESS = "relief_linkage"

# The portal's content (政策法规, pages such as 中心简介): shown there only while published.
PUBLISHED, WITHDRAWN = "published", "withdrawn"
CONTENT_STATUSES = {PUBLISHED: _l("已发布"), WITHDRAWN: _l("已撤回")}

# 好差评: where a rating was given; the levels and tags are data (data/rating_levels.yaml,
# data/rating_tags.yaml).
RATING_CHANNELS = {"portal": _l("网上评价"), "window": _l("现场评价"), "hotline": _l("12345回访")}


def rating_channel_label(code: Any) -> Any:
    """The label of a 好差评 channel (the code itself when unknown)."""
    return RATING_CHANNELS.get(str(code), code)
# A version of an ended case's electronic archive (电子化归档, R-6.1.2.2): due, then written once.
ARCHIVE_PENDING, ARCHIVED = "pending", "archived"
ARCHIVE_STATUSES = {ARCHIVE_PENDING: _l("待归档"), ARCHIVED: _l("已归档")}

# 投诉反馈: where a complaint came from and where it stands. The types are data
# (data/complaint_types.yaml); its result (办理结果) and the complainant's satisfaction are the enums of the
# forms complaint_handle and complaint_callback.
COMPLAINT_CHANNELS = {"portal": _l("网上投诉"), "window": _l("窗口投诉"), "hotline": _l("12345工单"),
                      "phone": _l("监督投诉电话")}
COMPLAINT_RECEIVED, COMPLAINT_HANDLING = "received", "handling"
COMPLAINT_REPLIED, COMPLAINT_CLOSED = "replied", "closed"
COMPLAINT_STATUSES = {COMPLAINT_RECEIVED: _l("已受理"), COMPLAINT_HANDLING: _l("办理中"),
                      COMPLAINT_REPLIED: _l("已答复"), COMPLAINT_CLOSED: _l("已办结")}
COMPLAINT_PROCESS = "complaint"

# 意见簿: where a suggestion was written.
SUGGESTION_CHANNELS = {"portal": _l("网上意见簿"), "hall": _l("大厅意见簿")}
