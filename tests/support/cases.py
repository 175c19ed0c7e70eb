"""Cases started and walked through the flow, step by step, through the engine's public calls."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import SpecCache
from engine.cases.store import InstanceState, find_instance
from tests.support.db import ROOT, tx

APPLICANT = {
    "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
    "region": {"township": "T01", "village": "T01V01"}, "request": "因病致贫，申请医疗救助和临时救助",
}
ACCEPT = {"materials": ["身份证", "户口簿"], "location": "县社会救助中心3号窗口", "field_work": "none"}


def applicant(**changes: Any) -> dict[str, Any]:
    """A fresh valid applicant record, with `changes`."""
    return {**json.loads(json.dumps(APPLICANT)), **changes}


def accept(field_work: str = "none") -> dict[str, Any]:
    """Department acceptance data (受理告知, R-5.4)."""
    return {**ACCEPT, "field_work": field_work}


RECTIFICATION_BPMN = ROOT / "processes" / "feedback_rectification.bpmn"
DEPARTMENT_USERS = {"minzheng": "mz1", "yibao": "yb1"}


def closed_case(engine: Any, departments: tuple[str, ...] = ("minzheng",), matters: tuple[str, ...] = ("linshi",),
                query_code: str | None = None) -> str:
    """A case for `matters` handled by `departments` and closed (办结): online with `query_code` when one is
    given, else registered at the village window by clerk_v."""
    if query_code:
        case_no, _ = engine.start_case(applicant(matters=list(matters)), "online", "county", query_code=query_code,
                                       actor="applicant", consent=True)
    else:
        case_no, _ = engine.start_case(applicant(matters=list(matters)), "window", "village", actor="clerk_v",
                                       org="T01V01")
    engine.complete_task(open_task(engine, case_no, "triage"), "center1",
                         {"decision": "eligible", "departments": list(departments), "matters": list(matters)})
    if len(departments) > 1:
        engine.complete_task(open_task(engine, case_no, "joint_plan"), "joint1",
                             {"departments": list(departments), "plan": "联动"})
    for department in departments:
        user = DEPARTMENT_USERS[department]
        engine.complete_task(open_task(engine, case_no, "dept_accept", department), user, accept())
        engine.complete_task(open_task(engine, case_no, "dept_result", department), user,
                             {"outcome": "approved", "content": "发放", "amount": 500})
    engine.complete_task(open_task(engine, case_no, "summary"), "center1", {"summary": "办结"})
    return str(case_no)


def start(engine: Any, township: str = "T01", village: str | None = "T01V01", level: str = "village",
          green_channel: bool = False, actor: str = "clerk_c", org: str | None = "center", **changes: Any) -> str:
    """Start a window case in a given township/village (or `region`); return its number."""
    record = applicant(**{"region": {"township": township, "village": village}, **changes})
    case_no, _ = engine.start_case(record, "window", level, green_channel, actor, org)
    return str(case_no)


def open_task(engine: Any, case_no: str, form_key: str, department: str | None = None) -> str:
    """The id of the one open task of a case with `form_key` (of one department's, when given)."""
    tasks = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == form_key
             and (department is None or department in t["candidate_groups"])]
    assert len(tasks) == 1, f"expected one open {form_key} task, found {tasks}"
    return str(tasks[0]["id"])


def task_row(engine: Any, case_no: str, form_key: str) -> dict[str, Any]:
    """The one open task of a case with `form_key`, as the task list shows it."""
    [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == form_key]
    return dict(task)


def dispatch(engine: Any, case_no: str, *departments: str, user: str = "center1") -> None:
    """Triage a case as eligible for `departments` (with the joint plan when several)."""
    chosen = list(departments or ("minzheng",))
    engine.complete_task(open_task(engine, case_no, "triage"), user, {"decision": "eligible", "departments": chosen})
    if len(chosen) > 1:
        engine.complete_task(open_task(engine, case_no, "joint_plan"), "joint1",
                             {"departments": chosen, "plan": "联动救助"})


# The steps of a one-department case, in order, with what each is answered with.
STEPS = ("triage", "dept_accept", "dept_result", "summary")


def walk_to(engine: Any, case_no: str, step: str, department: str = "minzheng") -> str:
    """Walk a one-department case until `step` (a form key of STEPS, or 'closed') is open; return its id."""
    answers = {"dept_accept": accept(), "dept_result": {"outcome": "approved", "content": "纳入低保"},
               "summary": {"summary": "已纳入低保"}}
    for current in STEPS:
        if current == step:
            return open_task(engine, case_no, step)
        if current == "triage":
            dispatch(engine, case_no, department)
        else:
            engine.complete_task(open_task(engine, case_no, current), "mz1", answers[current])
    assert step == "closed", f"unknown step {step}"
    return ""


def complete_case(engine: Any, case_no: str) -> None:
    """Walk a case through one department to 办结."""
    walk_to(engine, case_no, "closed")


def instance_of(database_url: str, case_no: str) -> InstanceState:
    """The case's process_instance row as stored now."""
    with tx(database_url) as session:
        instance = find_instance(session.connection(), case_no)
    assert instance is not None
    return instance


class CaseWalker:
    """Drives one case through the engine, checking the store after every step."""

    def __init__(self, engine: Any, case_no: str):
        self.engine, self.case_no = engine, case_no

    def open_tasks(self, form_key: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
        """Return the case's open tasks, optionally filtered by form key and candidate group."""
        tasks = self.engine.queries.list_tasks(case_no=self.case_no)
        return [t for t in tasks if (form_key is None or t["form_key"] == form_key)
                and (group is None or group in t["candidate_groups"])]

    def complete(self, form_key: str, data: dict[str, Any], user: str = "tester",
                 group: str | None = None) -> list[dict[str, Any]]:
        """Complete the one open task with `form_key` (and `group`), then re-check the store."""
        tasks = self.open_tasks(form_key, group)
        assert len(tasks) == 1, f"expected one open {form_key} task for {group}, found {tasks}"
        return self.complete_id(tasks[0]["id"], data, user)

    def complete_id(self, task_id: str, data: dict[str, Any], user: str = "tester") -> list[dict[str, Any]]:
        """Complete a task by id and check the mirror against the restored workflow."""
        # A fresh spec cache per step, as if every step ran in a new process: nothing may
        # survive in memory between steps except what the database holds.
        self.engine.specs = SpecCache()
        result = self.engine.complete_task(task_id, user, data)
        self.check_store()
        return list(result)

    def check_store(self) -> None:
        """Restore the workflow from the database; its READY user tasks must equal the mirror."""
        workflow = self.engine.queries.restore_workflow(self.case_no)
        ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
        mirrored = {t["id"] for t in self.engine.queries.list_tasks(case_no=self.case_no)}
        assert ready == mirrored

    def show(self) -> dict[str, Any]:
        """Return `relief case show` for the case."""
        return dict(self.engine.queries.show_case(self.case_no))

    def events(self, type_: str) -> list[dict[str, Any]]:
        """Return the case's history entries of one type."""
        return [e for e in self.show()["history"] if e["type"] == type_]


def start_at_village_window(engine: Any, **changes: Any) -> str:
    """Start a case registered at the 东湖社区 (T01V01) window by clerk_v; return its number."""
    return start(engine, actor="clerk_v", org="T01V01", **changes)
