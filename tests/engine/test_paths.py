"""Every path of the Figure 1 flow (DB32/T 4012-2021 clauses 4–5), saved and restored at each step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import clock
from engine.access.accounts import create_user, upsert_organisation
from engine.errors import InvalidData, NotFound, TaskConflict
from tests.support.cases import accept
from tests.support.db import suite_settings, tx


def notices(walker: Any) -> list[str]:
    """Kinds of the applicant notices of a case, in order."""
    return [e["data"]["kind"] for e in walker.events("notice")]


def test_ineligible_ends_refused_with_reason(start_case: Any) -> None:
    """R-5.2: an ineligible application is refused, the applicant told why, the case closed declined."""
    case = start_case()
    assert [t["form_key"] for t in case.open_tasks()] == ["triage"]
    assert case.open_tasks()[0]["candidate_groups"] == ["center"]
    case.complete("triage", {"decision": "ineligible", "reason": "家庭收入高于当地低保标准"}, user="center1")
    shown = case.show()
    assert shown["status"] == "closed_declined"
    assert shown["open_tasks"] == []
    assert notices(case) == ["received", "refused"]
    refused = case.events("notice")[-1]["data"]
    assert refused["reason"] == "家庭收入高于当地低保标准"
    decision = case.events("decision")[0]
    assert decision["actor"] == "center1" and decision["data"]["decision"] == "ineligible"
    assert case.events("case_closed")[0]["data"]["end_events"] == ["end_refused"]


def test_single_department_without_field_work(start_case: Any) -> None:
    """R-5.3/5.4/5.6: one clear department gets the case directly; its result is summarised; 办结."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"], "matters": ["dibao"]})
    [accept_task] = case.open_tasks()
    assert accept_task["form_key"] == "dept_accept" and accept_task["candidate_groups"] == ["minzheng"]
    case.complete("dept_accept", accept(), user="mz1", group="minzheng")
    assert [t["form_key"] for t in case.open_tasks()] == ["dept_result"]
    case.complete("dept_result", {"outcome": "approved", "content": "纳入低保", "amount": 780}, user="mz1")
    [summary] = case.open_tasks()
    assert summary["form_key"] == "summary" and summary["candidate_groups"] == ["center"]
    case.complete("summary", {"summary": "民政局已纳入低保"}, user="center1")
    shown = case.show()
    assert shown["status"] == "closed_completed"
    assert notices(case) == ["received", "dispatched", "accepted", "completed"]
    completed = case.events("notice")[-1]["data"]["results"]
    assert completed == [{"department": "minzheng", "outcome": "approved", "content": "纳入低保", "amount": 780,
                          "field_work": "none", "field_result": None}]
    assert case.events("case_closed")[0]["data"]["end_events"] == ["end_completed"]


def test_single_department_with_township_field_work(start_case: Any) -> None:
    """R-5.5: the department sends field work to the applicant's township, which reports back."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["zhujian"]})
    case.complete("dept_accept", accept("township"), user="zj1")
    [field] = case.open_tasks()
    assert field["form_key"] == "field_report" and field["candidate_groups"] == ["T01"]
    case.complete("field_report", {"result": "已入户核查，房屋存在安全隐患"}, user="town1")
    case.complete("dept_result", {"outcome": "approved", "content": "纳入危房改造", "amount": 20000})
    case.complete("summary", {"summary": "住建局纳入危房改造"})
    assert case.show()["status"] == "closed_completed"
    result = case.events("notice")[-1]["data"]["results"][0]
    assert result["field_result"] == "已入户核查，房屋存在安全隐患" and result["department"] == "zhujian"


def test_three_departments_in_parallel(start_case: Any) -> None:
    """R-5.4: two or more departments get a joint plan, then handle the case in parallel."""
    case = start_case()
    departments = ["minzheng", "yibao", "canlian"]
    case.complete("triage", {"decision": "eligible", "departments": departments})
    [plan] = case.open_tasks()
    assert plan["form_key"] == "joint_plan" and plan["candidate_groups"] == ["joint_office"]
    case.complete("joint_plan", {"departments": departments, "plan": "民政临时救助，医保医疗救助，残联康复"})
    accepts = case.open_tasks("dept_accept")
    assert sorted(g for t in accepts for g in t["candidate_groups"]) == sorted(departments)
    case.complete("dept_accept", accept("village"), group="canlian")
    case.complete("dept_accept", accept(), group="minzheng")
    case.complete("dept_accept", accept(), group="yibao")
    [field] = case.open_tasks("field_report")
    assert field["candidate_groups"] == ["T01V01"]
    case.complete("dept_result", {"outcome": "approved", "content": "临时救助", "amount": 3000}, group="minzheng")
    case.complete("field_report", {"result": "村里已上门评估"})
    case.complete("dept_result", {"outcome": "referred", "content": "转介康复机构"}, group="canlian")
    assert case.open_tasks("summary") == []
    case.complete("dept_result", {"outcome": "approved", "content": "医疗救助", "amount": 12000}, group="yibao")
    case.complete("summary", {"summary": "三部门联动办结"})
    assert case.show()["status"] == "closed_completed"
    results = case.events("notice")[-1]["data"]["results"]
    by_department = {r["department"]: r for r in results}
    assert set(by_department) == set(departments)
    assert by_department["yibao"]["amount"] == 12000
    assert by_department["canlian"]["outcome"] == "referred"
    assert by_department["canlian"]["field_result"] == "村里已上门评估"
    assert by_department["minzheng"]["field_result"] is None


def test_unclear_goes_to_joint_conference_which_assigns(start_case: Any) -> None:
    """R-5.3: no clear implementing body → the joint conference assigns a department and a plan."""
    case = start_case()
    case.complete("triage", {"decision": "unclear", "note": "无对应政策"})
    [conference] = case.open_tasks()
    assert conference["form_key"] == "joint_conference" and conference["candidate_groups"] == ["joint_office"]
    case.complete("joint_conference", {"resolution": "assign", "departments": ["hongshizihui"],
                                       "plan": "红十字会人道救助"}, user="joint1")
    case.complete("dept_accept", accept(), group="hongshizihui")
    case.complete("dept_result", {"outcome": "approved", "content": "人道救助金", "amount": 2000})
    case.complete("summary", {"summary": "红十字会办结"})
    assert case.show()["status"] == "closed_completed"
    assert "declined" not in notices(case)


def test_unclear_joint_conference_declines(start_case: Any) -> None:
    """R-5.3: the joint conference may decline with a reason; the applicant is told; the case closes."""
    case = start_case()
    case.complete("triage", {"decision": "unclear"})
    case.complete("joint_conference", {"resolution": "decline", "reason": "不属于社会救助范围"})
    shown = case.show()
    assert shown["status"] == "closed_declined"
    assert notices(case) == ["received", "declined"]
    assert case.events("notice")[-1]["data"]["reason"] == "不属于社会救助范围"
    assert case.events("case_closed")[0]["data"]["end_events"] == ["end_declined"]


def test_department_overrun_raises_supervision_once(start_case: Any, case_engine: Any) -> None:
    """R-6.2.2: when a department overruns, the boundary timer raises exactly one 督办 task for the center."""
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Jiangsu
    with clock.frozen_at(start):
        case = start_case()
        case.complete("triage", {"decision": "eligible", "departments": ["sifa"]})
        case.complete("dept_accept", accept())
    assert case_engine.fire_timers(start + timedelta(days=10)) == []
    overrun = start + timedelta(days=30)
    fired = case_engine.fire_timers(overrun)
    assert [f["timer"] for f in fired] == ["overrun_timer"] and fired[0]["department"] == "sifa"
    for _ in range(3):
        assert case_engine.fire_timers(overrun + timedelta(days=1)) == []
    case.check_store()
    [supervision] = case.open_tasks("supervision")
    assert supervision["candidate_groups"] == ["center"]
    assert len(case.events("timer_fired")) == 1
    with clock.frozen_at(overrun):
        case.complete("supervision", {"note": "已电话督促司法局加快办理"})
        case.complete("dept_result", {"outcome": "approved", "content": "指派律师"})
        case.complete("summary", {"summary": "法律援助办结"})
    assert case.show()["status"] == "closed_completed"


def test_timer_is_cancelled_when_department_finishes_in_time(start_case: Any, case_engine: Any) -> None:
    """A department that finishes in time never gets a 督办 task, even when the clock passes the deadline."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["jiaoyu"]})
    case.complete("dept_accept", accept())
    case.complete("dept_result", {"outcome": "denied", "content": "不符合教育救助条件"})
    assert case_engine.fire_timers(clock.now() + timedelta(days=90)) == []
    assert case.open_tasks("supervision") == []


def test_invalid_form_data_is_refused_and_nothing_changes(start_case: Any) -> None:
    """Data failing the task's form schema is refused with field errors; the task stays open."""
    case = start_case()
    [triage] = case.open_tasks()
    with pytest.raises(InvalidData) as refused:
        case.complete_id(triage["id"], {"decision": "eligible"})
    assert "departments" in refused.value.errors
    with pytest.raises(InvalidData) as refused:
        case.complete_id(triage["id"], {"decision": "ineligible"})
    assert refused.value.errors["reason"]
    assert case.open_tasks() == [triage]
    assert case.events("task_completed") == []


def test_completing_twice_is_a_conflict(start_case: Any) -> None:
    """A second completion of the same task gets a clear conflict and changes nothing."""
    case = start_case()
    [triage] = case.open_tasks()
    case.complete_id(triage["id"], {"decision": "ineligible", "reason": "不符合条件"}, user="center1")
    with pytest.raises(TaskConflict) as conflict:
        case.complete_id(triage["id"], {"decision": "unclear"}, user="center2")
    assert "center1" in conflict.value.message
    assert len(case.events("task_completed")) == 1


def test_unknown_task_and_case(case_engine: Any) -> None:
    """Unknown task ids and case numbers are reported as not found."""
    with pytest.raises(NotFound):
        case_engine.complete_task("00000000-0000-0000-0000-000000000000", "u", {})
    with pytest.raises(NotFound):
        case_engine.queries.show_case("SJ000000000000")


def test_start_refuses_invalid_applicant(case_engine: Any, applicant: dict[str, Any]) -> None:
    """An applicant with a wrong ID check digit or no township is refused with field errors; no case starts."""
    bad = {**applicant, "id_number": "340524198001010011", "region": {"village": "T01V01"}}
    with pytest.raises(InvalidData) as refused:
        case_engine.start_case(bad, "window", "village")
    assert set(refused.value.errors) >= {"id_number", "region.township"}
    assert case_engine.queries.list_tasks() == []


def test_case_numbers_are_sequential_per_day(case_engine: Any, applicant: dict[str, Any]) -> None:
    """Case numbers carry the local date and a running number."""
    with clock.frozen_at(datetime(2026, 5, 6, 2, 0, tzinfo=UTC)):
        first, _ = case_engine.start_case(applicant, "online", "county")
        second, _ = case_engine.start_case(applicant, "hotline", "county")
    assert (first, second) == ("SJ202605060001", "SJ202605060002")


def test_running_instances_stay_on_their_version(case_engine: Any, start_case: Any) -> None:
    """A new definition version does not move running cases; new cases start on it."""
    from tests.support.db import BPMN_PATH

    old = start_case()
    changed = BPMN_PATH.read_bytes().replace("一门受理·初步研判".encode(), "一门受理·初步研判(新)".encode(), 1)
    result = case_engine.deploy(changed, "relief_linkage.bpmn", "designer1", "改名")
    assert (result.version, result.changed) == (2, True)
    new = start_case()
    assert old.show()["definition_version"] == 1
    assert new.show()["definition_version"] == 2
    assert new.open_tasks()[0]["name"] == "一门受理·初步研判(新)"
    assert old.open_tasks()[0]["name"] == "一门受理·初步研判"
    old.complete("triage", {"decision": "ineligible", "reason": "旧版本流程照常运行"})
    assert old.show()["status"] == "closed_declined"


def test_unknown_matter_code_is_refused(start_case: Any) -> None:
    """Matter codes in the triage must exist in the matter catalog (事项清单, R-6.1.3.1)."""
    case = start_case()
    [triage] = case.open_tasks()
    with pytest.raises(InvalidData) as refused:
        case.complete_id(triage["id"], {"decision": "eligible", "departments": ["minzheng"], "matters": ["nosuch"]})
    assert "nosuch" in refused.value.errors["matters"][0]
    case.complete_id(triage["id"], {"decision": "eligible", "departments": ["minzheng"], "matters": ["dibao"]})
    assert case.events("decision")[0]["data"]["departments"] == ["minzheng"]


def test_claim_release_and_assign_are_logged(start_case: Any, case_engine: Any, clean_db: str) -> None:
    """Claiming, releasing and assigning a task change its assignee and each leaves an event."""
    # Beside the demo county's users: three more center officers and a 民政局 handler.
    with tx(clean_db) as session:
        upsert_organisation(session, "center", "县社会救助中心", "center", None)
        upsert_organisation(session, "minzheng", "民政局", "department", "center")
        for name in ("center7", "center8", "center9"):
            create_user(session, suite_settings(), name, "Passw0rd!", "center", ["center"], clock.now(),
                        enforce_policy=False)
        create_user(session, suite_settings(), "mz9", "Passw0rd!", "minzheng", ["department"], clock.now(),
                    enforce_policy=False)
    case = start_case()
    [triage] = case.open_tasks()
    assert case_engine.claim_task(triage["id"], "center7")["assignee"] == "center7"
    with pytest.raises(TaskConflict) as taken:
        case_engine.claim_task(triage["id"], "center8")
    assert "center7" in taken.value.message
    assert case_engine.release_task(triage["id"], "center7")["assignee"] is None
    assert case_engine.claim_task(triage["id"], "center8")["assignee"] == "center8"
    with pytest.raises(InvalidData) as not_candidate:
        case_engine.assign_task(triage["id"], "mz9", by="chief")
    assert "mz9" in not_candidate.value.errors["assignee"][0]
    assert case_engine.assign_task(triage["id"], "center9", by="chief")["assignee"] == "center9"
    assert [e["type"] for e in case.show()["history"] if e["type"].startswith("task_")][-4:] == [
        "task_claimed", "task_released", "task_claimed", "task_assigned"]
    assert case.open_tasks()[0]["assignee"] == "center9"
    case.complete("triage", {"decision": "ineligible", "reason": "不符合"}, user="center9")
    with pytest.raises(TaskConflict):
        case_engine.claim_task(triage["id"], "center7")


def test_applicant_matters_come_from_the_catalog(case_engine: Any, applicant: dict[str, Any]) -> None:
    """Matters named at intake must exist in the catalog; known ones reach the flow's data."""
    with pytest.raises(InvalidData) as refused:
        case_engine.start_case({**applicant, "matters": ["dibao", "bogus"]}, "window", "village")
    assert "bogus" in refused.value.errors["matters"][0]
    case_no, _ = case_engine.start_case({**applicant, "matters": ["linshi"]}, "window", "village")
    assert case_engine.queries.restore_workflow(case_no).data["matters"] == ["linshi"]


def test_overlong_applicant_fields_are_refused(case_engine: Any, applicant: dict[str, Any]) -> None:
    """Fields longer than their columns are refused with a message, on SQLite as on PostgreSQL."""
    long = {**applicant, "name": "张" * 101, "request": "x" * 4001, "region": {"township": "T" * 61}}
    with pytest.raises(InvalidData) as refused:
        case_engine.start_case(long, "window", "county")
    assert {"name", "request", "region.township"} <= set(refused.value.errors)
