"""Instance administration: suspend, resume, terminate and migrate cases, from the engine and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import InvalidData, NotFound, TaskConflict
from tests.support.bpmn import RESULT_LABEL, TRIAGE_LABEL, deploy, relabelled, renamed_id, with_step
from tests.support.cases import accept, instance_of
from tests.support.cli import relief
from tests.support.db import BPMN_PATH

MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Jiangsu

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def to_departments(case: Any, departments: list[str]) -> None:
    """Triage a case as eligible for `departments` (with the joint plan when several)."""
    case.complete("triage", {"decision": "eligible", "departments": departments})
    if len(departments) > 1:
        case.complete("joint_plan", {"departments": departments, "plan": "联动救助"})


def finish_departments(case: Any) -> None:
    """Accept and report every open department task of a case."""
    for task in case.open_tasks("dept_accept"):
        case.complete_id(task["id"], accept())
    for task in case.open_tasks("dept_result"):
        case.complete_id(task["id"], {"outcome": "approved", "content": "已救助"})


def shape(task: Any) -> tuple[Any, ...]:
    """A task's spec name, state and unordered subtree, down to the first merely possible tasks."""
    possible = task.has_state(TaskState.PREDICTED_MASK)
    return task.task_spec.name, task.state, [] if possible else sorted(shape(c) for c in task.children)


def prediction(case: Any) -> list[Any]:
    """What lies ahead of a case: the shapes below its active tasks, in its workflow and subprocesses."""
    workflow = case.engine.queries.restore_workflow(case.case_no)
    return sorted(shape(t) for t in workflow.get_tasks(state=ACTIVE))


# -- suspend and resume ---------------------------------------------------------------------


def test_suspended_case_refuses_task_work_until_resumed(start_case: Any, case_engine: Any) -> None:
    """While suspended a case's tasks cannot be completed, claimed, released or assigned; resume allows it again."""
    case = start_case()
    [triage] = case.open_tasks()
    assert case_engine.admin.suspend_case(case.case_no, "admin1", "核实申请人身份") == {
        "case_no": case.case_no, "status": "suspended"}
    assert case.show()["status"] == "suspended"
    attempts = [lambda: case_engine.complete_task(triage["id"], "center1", {"decision": "unclear"}),
                lambda: case_engine.claim_task(triage["id"], "center1"),
                lambda: case_engine.release_task(triage["id"], "center1"),
                lambda: case_engine.assign_task(triage["id"], "center2", by="chief")]
    for attempt in attempts:
        with pytest.raises(TaskConflict) as refused:
            attempt()
        assert refused.value.message.startswith("案件已挂起")
    assert [e["type"] for e in case.show()["history"]][-1] == "case_suspended"
    assert case.open_tasks() == [triage]
    assert case_engine.admin.resume_case(case.case_no, "admin1", "身份已核实")["status"] == "open"
    case.complete("triage", {"decision": "ineligible", "reason": "不符合条件"})
    assert case.show()["status"] == "closed_declined"


def test_overrun_timer_waits_while_suspended_and_fires_once_after_resume(
        start_case: Any, case_engine: Any, clean_db: str) -> None:
    """A suspended case is not picked by the timer job; after resume its overdue timer fires on the next tick, once."""
    with clock.frozen_at(MONDAY):
        case = start_case()
        to_departments(case, ["sifa"])
        case.complete("dept_accept", accept())
    due = instance_of(clean_db, case.case_no).next_timer_at
    assert due is not None
    with clock.frozen_at(MONDAY + timedelta(days=1)):
        case_engine.admin.suspend_case(case.case_no, "admin1", "等待法院判决")
    overrun = MONDAY + timedelta(days=30)
    assert case_engine.fire_timers(overrun) == []
    assert instance_of(clean_db, case.case_no).next_timer_at == due
    assert case.open_tasks("supervision") == []
    with clock.frozen_at(overrun):
        case_engine.admin.resume_case(case.case_no, "admin1", "判决已下达")
    fired = case_engine.fire_timers(overrun + timedelta(minutes=1))
    assert [(f["timer"], f["department"]) for f in fired] == [("overrun_timer", "sifa")]
    assert case_engine.fire_timers(overrun + timedelta(days=1)) == []
    assert len(case.events("timer_fired")) == 1
    case.check_store()
    with clock.frozen_at(overrun + timedelta(days=1)):
        case.complete("supervision", {"note": "已督促"})
        case.complete("dept_result", {"outcome": "approved", "content": "法律援助"})
        case.complete("summary", {"summary": "办结"})
    assert case.show()["status"] == "closed_completed"


# -- terminate ------------------------------------------------------------------------------


def test_terminate_cancels_the_workflow_and_its_open_tasks(start_case: Any, case_engine: Any, clean_db: str) -> None:
    """Terminating cancels every open task (with task_cancelled events), the timers and the workflow; it is final."""
    case = start_case()
    to_departments(case, ["minzheng", "yibao"])
    accepts = case.open_tasks("dept_accept")
    assert len(accepts) == 2 and instance_of(clean_db, case.case_no).next_timer_at is not None
    with clock.frozen_at(MONDAY):
        result = case_engine.admin.terminate_case(case.case_no, "admin1", "申请人撤回申请")
    assert (result["status"], sorted(result["cancelled_tasks"])) == ("terminated", sorted(t["id"] for t in accepts))
    shown = case.show()
    assert (shown["status"], shown["open_tasks"]) == ("terminated", [])
    cancelled = case.events("task_cancelled")
    assert {e["task_id"] for e in cancelled} == {t["id"] for t in accepts}
    assert {e["actor"] for e in cancelled} == {"admin1"}
    instance = instance_of(clean_db, case.case_no)
    assert (instance.next_timer_at, instance.ended_at) == (None, MONDAY)
    assert case_engine.queries.restore_workflow(case.case_no).get_tasks(state=ACTIVE) == []
    with pytest.raises(TaskConflict) as refused:
        case_engine.complete_task(accepts[0]["id"], "mz1", accept())
    assert "已终止" in refused.value.message
    assert case_engine.fire_timers(MONDAY + timedelta(days=90)) == []


def test_a_suspended_case_can_be_terminated(start_case: Any, case_engine: Any) -> None:
    """Termination applies to suspended cases too."""
    case = start_case()
    case_engine.admin.suspend_case(case.case_no, "admin1", "调查中")
    case_engine.admin.terminate_case(case.case_no, "admin1", "查实为重复申请")
    assert case.show()["status"] == "terminated"
    assert len(case.events("task_cancelled")) == 1


# -- refusals and the event log ---------------------------------------------------------------


def test_actions_in_the_wrong_state_are_refused(start_case: Any, case_engine: Any) -> None:
    """Double suspend, resuming an open case, and any action on a closed or terminated case are refused."""
    case = start_case()
    case_no = case.case_no
    with pytest.raises(TaskConflict, match="未挂起"):
        case_engine.admin.resume_case(case_no, "admin1", "误操作")
    case_engine.admin.suspend_case(case_no, "admin1", "调查中")
    with pytest.raises(TaskConflict, match="已挂起，无需重复挂起"):
        case_engine.admin.suspend_case(case_no, "admin1", "再次挂起")
    case_engine.admin.resume_case(case_no, "admin1", "调查结束")
    case.complete("triage", {"decision": "ineligible", "reason": "不符合条件"})
    for action in (case_engine.admin.suspend_case, case_engine.admin.resume_case, case_engine.admin.terminate_case):
        with pytest.raises(TaskConflict, match="不予受理"):
            action(case_no, "admin1", "已办结的案件")
    other = start_case()
    case_engine.admin.terminate_case(other.case_no, "admin1", "重复申请")
    with pytest.raises(TaskConflict, match="已终止"):
        case_engine.admin.terminate_case(other.case_no, "admin1", "再次终止")
    with pytest.raises(TaskConflict, match="已终止"):
        case_engine.admin.resume_case(other.case_no, "admin1", "恢复")
    history = [e["type"] for e in case.show()["history"]]
    assert (history.count("case_suspended"), history.count("case_resumed")) == (1, 1)
    assert len(other.events("case_terminated")) == 1


def test_reason_and_actor_are_mandatory(start_case: Any, case_engine: Any) -> None:
    """An empty or blank reason, or no actor, is refused with field errors and changes nothing."""
    case = start_case()
    with pytest.raises(InvalidData) as refused:
        case_engine.admin.suspend_case(case.case_no, "admin1", "  ")
    assert list(refused.value.errors) == ["reason"]
    with pytest.raises(InvalidData) as refused:
        case_engine.admin.terminate_case(case.case_no, "", "")
    assert set(refused.value.errors) == {"actor", "reason"}
    with pytest.raises(InvalidData):
        case_engine.admin.migrate_case(case.case_no, 1, "admin1", "")
    assert case.show()["status"] == "open"
    assert [e["type"] for e in case.show()["history"]][-1] == "task_created"


def test_unknown_case_is_not_found(case_engine: Any) -> None:
    """Every action on an unknown case number answers not found."""
    for action in (case_engine.admin.suspend_case, case_engine.admin.resume_case, case_engine.admin.terminate_case):
        with pytest.raises(NotFound):
            action("SJ209901010001", "admin1", "原因")
    with pytest.raises(NotFound):
        case_engine.admin.migration_check("SJ209901010001", 1)


def test_each_action_leaves_one_event_with_actor_and_reason(start_case: Any, case_engine: Any) -> None:
    """Suspend, resume, migrate and terminate each write exactly one event naming the actor and the reason."""
    case = start_case()
    deploy(case_engine, relabelled(BPMN_PATH.read_bytes()))
    case_engine.admin.suspend_case(case.case_no, "admin1", " 原因一 ")
    case_engine.admin.resume_case(case.case_no, "admin2", "原因二")
    case_engine.admin.migrate_case(case.case_no, 2, "admin3", "原因三")
    case_engine.admin.terminate_case(case.case_no, "admin4", "原因四")
    expected = [("case_suspended", "admin1", "原因一"), ("case_resumed", "admin2", "原因二"),
                ("case_migrated", "admin3", "原因三"), ("case_terminated", "admin4", "原因四")]
    for type_, actor, reason in expected:
        [event] = case.events(type_)
        assert (event["actor"], event["data"]["reason"]) == (actor, reason)
    assert case.events("case_migrated")[0]["data"] == {"from": 1, "to": 2, "reason": "原因三"}


# -- migration ------------------------------------------------------------------------------


def test_migrate_to_a_relabelled_version_and_complete_there(start_case: Any, case_engine: Any) -> None:
    """A version that only renames task labels is safe: the case moves, its open task takes the new label,
    and it completes on the new version, subprocess tasks included."""
    case = start_case()
    deploy(case_engine, relabelled(BPMN_PATH.read_bytes()))
    assert case_engine.admin.migration_check(case.case_no, 2) == {"safe": True, "missing": [], "missing_completed": []}
    assert case_engine.admin.migrate_case(case.case_no, 2, "admin1", "新版本名称") == {
        "case_no": case.case_no, "from_version": 1, "to_version": 2}
    case.check_store()
    assert case.show()["definition_version"] == 2
    assert case.open_tasks()[0]["name"] == f"{TRIAGE_LABEL}(第2版)"
    to_departments(case, ["minzheng"])
    case.complete("dept_accept", accept())
    assert case.open_tasks()[0]["name"] == f"{RESULT_LABEL}(第2版)"
    case.complete("dept_result", {"outcome": "approved", "content": "纳入低保"})
    case.complete("summary", {"summary": "办结"})
    assert case.show()["status"] == "closed_completed"


def test_migrate_inside_a_subprocess_keeps_tasks_and_timers(start_case: Any, case_engine: Any, clean_db: str) -> None:
    """A case waiting in two parallel department subprocesses moves with its task ids, due times and timer."""
    case = start_case()
    to_departments(case, ["minzheng", "yibao"])
    before = case.open_tasks()
    timer = instance_of(clean_db, case.case_no).next_timer_at
    deploy(case_engine, relabelled(BPMN_PATH.read_bytes()))
    case_engine.admin.migrate_case(case.case_no, 2, "admin1", "新版本名称")
    case.check_store()
    assert case.open_tasks() == before
    assert instance_of(clean_db, case.case_no).next_timer_at == timer
    for task in before:
        case.complete_id(task["id"], accept())
    assert [t["name"] for t in case.open_tasks()] == [f"{RESULT_LABEL}(第2版)"] * 2
    finish_departments(case)
    case.complete("summary", {"summary": "两部门办结"})
    assert case.show()["status"] == "closed_completed"


def test_migrated_case_reaches_steps_added_after_where_it_waits(start_case: Any, case_engine: Any) -> None:
    """Steps the new version adds downstream (right after the waiting task, and after a running
    subprocess) are predicted as for a case started on it, and reached, not skipped."""
    at_triage, in_departments = start_case(), start_case()
    to_departments(in_departments, ["minzheng"])
    xml = with_step(with_step(BPMN_PATH.read_bytes(), "Flow_triage_gw", "precheck"),
                    "Flow_summary_completed", "review")
    version = deploy(case_engine, xml)
    fresh_at_triage, fresh_in_departments = start_case(), start_case()
    fresh_in_departments.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    fresh_in_departments.complete("supervision", {"note": "复核同意"})
    for case, fresh in ((at_triage, fresh_at_triage), (in_departments, fresh_in_departments)):
        assert case_engine.admin.migration_check(case.case_no, version)["safe"]
        case_engine.admin.migrate_case(case.case_no, version, "admin1", "增加复核环节")
        case.check_store()
        assert prediction(case) == prediction(fresh)
    at_triage.complete("triage", {"decision": "ineligible", "reason": "不符合条件"})
    assert [t["form_key"] for t in at_triage.open_tasks()] == ["supervision"]
    at_triage.complete("supervision", {"note": "复核同意"})
    assert at_triage.show()["status"] == "closed_declined"
    finish_departments(in_departments)
    in_departments.complete("summary", {"summary": "办结"})
    assert [t["form_key"] for t in in_departments.open_tasks()] == ["supervision"]
    assert in_departments.events("notice")[-1]["data"]["kind"] != "completed"
    in_departments.complete("supervision", {"note": "复核同意"})
    assert in_departments.show()["status"] == "closed_completed"


@pytest.mark.parametrize("waiting_at", ["triage", "dept_accept"])
def test_migrate_is_refused_when_the_waiting_task_is_gone(start_case: Any, case_engine: Any, waiting_at: str) -> None:
    """A version without the task the case waits at (top level or inside a subprocess) is refused naming it."""
    case = start_case()
    if waiting_at == "dept_accept":
        to_departments(case, ["minzheng"])
    version = deploy(case_engine, renamed_id(BPMN_PATH.read_bytes(), waiting_at, f"{waiting_at}_v3"))
    check = case_engine.admin.migration_check(case.case_no, version)
    assert (check["safe"], check["missing"]) == (False, [waiting_at])
    with pytest.raises(TaskConflict) as refused:
        case_engine.admin.migrate_case(case.case_no, version, "admin1", "试图迁移")
    assert waiting_at in refused.value.message and f"版本 {version}" in refused.value.message
    assert case.show()["definition_version"] == 1
    assert case.events("case_migrated") == []
    case.check_store()


def test_migrate_when_a_step_ahead_is_replaced(start_case: Any, case_engine: Any) -> None:
    """A version that replaces a step the case has not reached yet is safe; the case reaches the new step."""
    case = start_case()
    to_departments(case, ["minzheng"])
    version = deploy(case_engine, renamed_id(BPMN_PATH.read_bytes(), "summary", "summary_final"))
    fresh = start_case()
    to_departments(fresh, ["minzheng"])
    assert case_engine.admin.migration_check(case.case_no, version)["safe"]
    case_engine.admin.migrate_case(case.case_no, version, "admin1", "汇总环节更换")
    case.check_store()
    assert prediction(case) == prediction(fresh)
    finish_departments(case)
    case.complete("summary", {"summary": "办结"})
    assert case.show()["status"] == "closed_completed"
    completed = case_engine.queries.restore_workflow(case.case_no).get_tasks(state=TaskState.COMPLETED)
    assert "summary_final" in {t.task_spec.bpmn_id for t in completed}


def test_migrate_is_refused_when_a_finished_step_is_gone(start_case: Any, case_engine: Any) -> None:
    """A version without a step the case already passed cannot hold its state: refused, naming the step."""
    case = start_case()
    to_departments(case, ["minzheng"])
    version = deploy(case_engine, renamed_id(BPMN_PATH.read_bytes(), "triage", "triage_v3"))
    assert case_engine.admin.migration_check(case.case_no, version) == {
        "safe": False, "missing": [], "missing_completed": ["triage"]}
    with pytest.raises(TaskConflict, match="已办环节.*triage"):
        case_engine.admin.migrate_case(case.case_no, version, "admin1", "试图迁移")
    assert case.show()["definition_version"] == 1


def test_migrate_to_an_unknown_or_the_same_version_is_refused(start_case: Any, case_engine: Any) -> None:
    """An undeployed version is not found; the version a case already runs on is a conflict; closed cases stay."""
    case = start_case()
    with pytest.raises(NotFound, match="版本 7"):
        case_engine.admin.migrate_case(case.case_no, 7, "admin1", "迁移")
    with pytest.raises(NotFound):
        case_engine.admin.migration_check(case.case_no, 7)
    with pytest.raises(TaskConflict, match="已在版本 1"):
        case_engine.admin.migrate_case(case.case_no, 1, "admin1", "迁移")
    deploy(case_engine, relabelled(BPMN_PATH.read_bytes()))
    case.complete("triage", {"decision": "ineligible", "reason": "不符合条件"})
    with pytest.raises(TaskConflict, match="不予受理"):
        case_engine.admin.migrate_case(case.case_no, 2, "admin1", "迁移")
    assert case.show()["definition_version"] == 1


def test_migration_works_with_workflow_reuse(county_db: str, applicant: dict[str, Any]) -> None:
    """With the in-memory workflow reuse on, the step after a migration runs on the new version's specs."""
    from engine.cases.runtime import CaseEngine

    engine = CaseEngine.for_url(county_db)
    engine.deploy(BPMN_PATH.read_bytes(), BPMN_PATH.name, "test")
    case_no, _ = engine.start_case(applicant, "window", "village")
    engine.deploy(with_step(BPMN_PATH.read_bytes(), "Flow_triage_gw", "precheck"), BPMN_PATH.name, "test",
                  despite_samples=True, reason="样例未覆盖新增的复核环节")
    engine.admin.suspend_case(case_no, "admin1", "准备迁移")
    engine.admin.migrate_case(case_no, 2, "admin1", "增加复核环节")
    engine.admin.resume_case(case_no, "admin1", "迁移完成")
    [triage] = engine.queries.list_tasks(case_no=case_no)
    after = engine.complete_task(triage["id"], "center1", {"decision": "ineligible", "reason": "不符合"})
    assert [t["form_key"] for t in after] == ["supervision"]


# -- command line ---------------------------------------------------------------------------


def test_admin_commands_end_to_end(county_db: str, applicant_file: Path, tmp_path: Path) -> None:
    """`relief case suspend|resume|migrate|terminate` act, print JSON, and refuse with exit 1 and the reason."""
    relief("deploy", str(BPMN_PATH), database_url=county_db)
    case_no = relief("case", "start", "--channel", "window", "--level", "village", "--applicant",
                     str(applicant_file), database_url=county_db)["case_no"]
    assert relief("case", "suspend", case_no, "--reason", "核实材料", "--by", "admin1", database_url=county_db) == {
        "case_no": case_no, "status": "suspended"}
    again = relief("case", "suspend", case_no, "--reason", "再次", database_url=county_db, expect=1)
    assert again["error"] == "conflict" and "已挂起" in again["message"]
    blank = relief("case", "resume", case_no, "--reason", " ", database_url=county_db, expect=1)
    assert blank["error"] == "invalid" and "reason" in blank["errors"]
    assert relief("case", "resume", case_no, "--reason", "材料齐全", database_url=county_db)["status"] == "open"
    v2 = tmp_path / "v2.bpmn"
    v2.write_bytes(relabelled(BPMN_PATH.read_bytes()))
    relief("deploy", str(v2), "--despite-samples", "--reason", "测试迁移", database_url=county_db)
    v3 = tmp_path / "v3.bpmn"
    v3.write_bytes(renamed_id(BPMN_PATH.read_bytes(), "triage", "triage_v3"))
    relief("deploy", str(v3), "--despite-samples", "--reason", "测试迁移", database_url=county_db)
    unsafe = relief("case", "migrate", case_no, "--to-version", "3", database_url=county_db, expect=1)
    assert unsafe["error"] == "conflict" and "triage" in unsafe["message"]
    assert relief("case", "migrate", case_no, "--to-version", "9", database_url=county_db, expect=1)["error"] == \
        "not_found"
    assert relief("case", "migrate", case_no, "--to-version", "2", "--reason", "改名", "--by", "admin1",
                  database_url=county_db) == {"case_no": case_no, "from_version": 1, "to_version": 2}
    [task] = relief("case", "terminate", case_no, "--reason", "申请人撤回", "--by", "admin1",
                    database_url=county_db)["cancelled_tasks"]
    shown = relief("case", "show", case_no, database_url=county_db)
    assert (shown["status"], shown["definition_version"], shown["open_tasks"]) == ("terminated", 2, [])
    migrated = [e for e in shown["history"] if e["type"] == "case_migrated"]
    assert [(e["actor"], e["data"]["reason"]) for e in migrated] == [("admin1", "改名")]
    refused = relief("task", "complete", task, "--user", "center1", "--data", '{"decision": "unclear"}',
                     database_url=county_db, expect=1)
    assert "已终止" in refused["message"]
    assert relief("case", "terminate", case_no, "--reason", "再次", database_url=county_db, expect=1)["error"] == \
        "conflict"


def test_migrate_with_a_step_added_after_the_waiting_timer(start_case: Any, case_engine: Any) -> None:
    """A version adding a step after the overrun timer: what lies ahead equals a new case's; a case that
    finishes in time closes, one that overruns reaches the new step before 督办."""
    with clock.frozen_at(MONDAY):
        in_time, late = start_case(), start_case()
        for case in (in_time, late):
            to_departments(case, ["sifa"])
    version = deploy(case_engine, with_step(BPMN_PATH.read_bytes(), "Flow_overrun_supervision", "review"))
    with clock.frozen_at(MONDAY):
        fresh = start_case()
        to_departments(fresh, ["sifa"])
    for case in (in_time, late):
        case_engine.admin.migrate_case(case.case_no, version, "admin1", "超期先复核")
        case.check_store()
        assert prediction(case) == prediction(fresh)
    with clock.frozen_at(MONDAY + timedelta(days=1)):
        finish_departments(in_time)
        in_time.complete("summary", {"summary": "按期办结"})
    assert in_time.show()["status"] == "closed_completed"
    fired = case_engine.fire_timers(MONDAY + timedelta(days=30))
    assert sorted(f["case_no"] for f in fired) == sorted([late.case_no, fresh.case_no])
    assert [t["name"] for t in late.open_tasks() if "center" in t["candidate_groups"]] == ["复核"]
    late.complete("supervision", {"note": "复核：确已超期"})
    [supervision] = late.open_tasks("supervision")
    assert supervision["name"] == "督办"
