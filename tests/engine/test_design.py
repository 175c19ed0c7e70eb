"""The process designer's tools: draft checks, version diff and trial runs of sample cases (流程设计)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, event, text

from engine import db
from engine.bpmn.definitions import validate
from engine.bpmn.design import (
    SampleFileError,
    check_draft,
    diff_definitions,
    load_samples,
    run_samples,
    summarise_diff,
)
from engine.bpmn.design.draft import load_draft
from engine.bpmn.design.trial import MAX_STEPS, SampleRun
from engine.deadlines.workcal import WorkCalendar
from tests.support.bpmn import SHIPPED, edit, without_flow
from tests.support.db import BPMN_PATH, suite_settings

SETTINGS = suite_settings()
CALENDAR = WorkCalendar.load(SETTINGS.calendar_file)

SAMPLES = load_samples("relief_linkage")


def line_of(xml: bytes, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` in `xml`."""
    source = xml.decode("utf-8")
    return source[:source.index(needle)].count("\n") + 1


def sample(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of a shipped sample, with top-level keys replaced."""
    [found] = [s for s in SAMPLES if s["name"] == name]
    return {**json.loads(json.dumps(found)), **changes}


def by_element(problems: list[Any]) -> dict[str | None, list[Any]]:
    """Problems grouped by element id."""
    grouped: dict[str | None, list[Any]] = {}
    for problem in problems:
        grouped.setdefault(problem.element_id, []).append(problem)
    return grouped


# -- check_draft -------------------------------------------------------------------------------


def test_shipped_process_passes_every_check() -> None:
    """The shipped Figure 1 flow has no deploy or reachability problems."""
    assert check_draft(BPMN_PATH.read_bytes(), BPMN_PATH.name, SETTINGS) == []


def test_task_that_cannot_reach_an_end_is_named_at_its_line() -> None:
    """Without the flow out of 办结汇总 that task strands cases; what followed it is unreachable."""
    draft = without_flow("Flow_summary_completed")
    problems = by_element(check_draft(draft, "draft.bpmn", SETTINGS))
    [summary] = problems["summary"]
    assert summary.message == "「办结汇总」无法到达任何结束事件"
    assert summary.line == line_of(draft, '<bpmn:userTask id="summary"')
    assert summary.file == "draft.bpmn"
    assert [p.message for p in problems["notify_completed"]] == ["「告知申请人办理结果」从开始事件无法到达"]
    assert [p.message for p in problems["end_completed"]] == ["「办结」从开始事件无法到达"]
    assert "triage" not in problems  # it still reaches 不予受理
    json.dumps([p.as_dict() for p in check_draft(draft, "draft.bpmn", SETTINGS)], ensure_ascii=False)


def test_nested_subprocess_inside_the_multi_instance_is_checked() -> None:
    """Reachability is checked inside dept_work, the subprocess nested in the multi-instance dept_handling."""
    problems = by_element(check_draft(without_flow("Flow_collect_end"), "draft.bpmn", SETTINGS))
    assert [p.message for p in problems["collect_result"]] == ["「汇总本部门结果」无法到达任何结束事件"]
    assert [p.message for p in problems["work_end"]] == ["「办理完成」从开始事件无法到达"]
    assert "dept_work" not in problems and "summary" not in problems


def test_supervision_path_counts_through_its_boundary_timer() -> None:
    """督办 is reachable only through the boundary timer; cutting the timer's flow strands it."""
    problems = by_element(check_draft(without_flow("Flow_overrun_supervision"), "draft.bpmn", SETTINGS))
    assert [p.message for p in problems["overrun_timer"]] == ["「部门办理超期」无法到达任何结束事件"]
    assert [p.message for p in problems["supervision"]] == ["「督办」从开始事件无法到达"]


def test_non_interrupting_timer_is_no_way_out_of_its_activity() -> None:
    """部门办理 with no outgoing flow is stranded even though its (non-interrupting) timer path ends."""
    problems = by_element(check_draft(without_flow("Flow_work_dept_end"), "draft.bpmn", SETTINGS))
    assert [p.message for p in problems["dept_work"]] == ["「部门办理」无法到达任何结束事件"]
    assert [p.message for p in problems["dept_end"]] == ["「本部门办结」从开始事件无法到达"]
    assert "overrun_timer" not in problems and "supervision" not in problems


def test_flow_to_an_element_outside_its_scope() -> None:
    """A sequence flow whose target is not a flow node of its process is reported at the flow."""
    draft = edit(SHIPPED, 'targetRef="notify_refused"', 'targetRef="Lane_center"')
    problems = by_element(check_draft(draft, "draft.bpmn", SETTINGS))
    [flow] = problems["Flow_ineligible"]
    assert "targetRef「Lane_center」" in flow.message
    assert flow.line == line_of(draft, '<bpmn:sequenceFlow id="Flow_ineligible"')
    assert [p.message for p in problems["notify_refused"]] == ["「告知不予受理及理由」从开始事件无法到达"]


def test_subprocess_without_end_event() -> None:
    """A subprocess with no end event is reported once, at the subprocess."""
    draft = SHIPPED
    for end in ("work_end", "work_end_refused"):  # both ends of 部门办理
        draft = edit(draft, rf'<bpmn:endEvent id="{end}" name="([^"]*)">(.*?)</bpmn:endEvent>',
                     rf'<bpmn:intermediateThrowEvent id="{end}" name="\1">\2</bpmn:intermediateThrowEvent>',
                     regex=True).decode("utf-8")
    problems = by_element(check_draft(draft.encode("utf-8"), "draft.bpmn", SETTINGS))
    assert "子流程「部门办理」缺少结束事件" in [p.message for p in problems["dept_work"]]


def test_condition_escaping_the_sandbox_is_refused_at_its_flow() -> None:
    """A condition reaching for interpreter internals is a problem at that sequence flow (deploy check)."""
    draft = edit(SHIPPED, 'decision == "ineligible"', "().__class__.__bases__[0].__subclasses__()")
    problems = by_element(check_draft(draft, "draft.bpmn", SETTINGS))
    assert problems["Flow_ineligible"]
    assert all("沙箱" in p.message for p in problems["Flow_ineligible"])
    assert {p.line for p in problems["Flow_ineligible"]} == {line_of(draft, '<bpmn:sequenceFlow id="Flow_ineligible"')}


def test_a_user_task_without_form_key_gets_the_generic_form() -> None:
    """Issue 10: a task with no camunda:formKey is no longer refused; it is completed on the generic form."""
    draft = edit(SHIPPED, 'camunda:formKey="summary" ', "")
    assert check_draft(draft, "draft.bpmn", SETTINGS) == []
    assert validate(draft, "draft.bpmn", SETTINGS).user_tasks["summary"].form_key == "generic"


def test_doctype_and_malformed_xml_are_problems_not_exceptions() -> None:
    """DOCTYPE (XXE) and broken XML come back as problems with a line."""
    [doctype] = check_draft(b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<x>&a;</x>', "d.bpmn", SETTINGS)
    assert "DOCTYPE" in doctype.message and doctype.line == 2
    [broken] = check_draft(b'<?xml version="1.0"?>\n<x><y></x>', "d.bpmn", SETTINGS)
    assert broken.message.startswith("XML 格式错误") and broken.line == 2


# -- diff_definitions --------------------------------------------------------------------------


def test_rename_and_deadline_change_are_one_changed_element() -> None:
    """Renaming 办结汇总 and changing its dueWorkdays shows both fields on that one element."""
    new = edit(SHIPPED, r'(<bpmn:userTask id="summary" name=")办结汇总(".*?name="dueWorkdays" value=")2"',
               r'\1办结汇总（复核）\g<2>4"', regex=True)
    diff = diff_definitions(SHIPPED.encode(), new)
    assert diff["added"] == [] and diff["removed"] == []
    assert diff["changed"] == [{"id": "summary", "type": "userTask", "name": "办结汇总（复核）", "changes": [
        {"field": "name", "before": "办结汇总", "after": "办结汇总（复核）"},
        {"field": "dueWorkdays", "before": "2", "after": "4"},
    ]}]
    assert summarise_diff(diff) == "新增 0 项，删除 0 项，修改 1 项"


def test_removed_and_added_elements() -> None:
    """Dropping 告知不予受理 (task and flow) is a removal one way and an addition the other."""
    old = SHIPPED.encode()
    new = edit(SHIPPED, r'<bpmn:scriptTask id="notify_refused".*?</bpmn:scriptTask>', "", regex=True).decode()
    new_xml = edit(new, r'<bpmn:sequenceFlow id="Flow_refused_end"[^>]*/>', "", regex=True).decode()
    new_bytes = edit(new_xml, 'targetRef="notify_refused"', 'targetRef="end_refused"')
    diff = diff_definitions(old, new_bytes)
    assert diff["removed"] == [{"id": "notify_refused", "type": "scriptTask", "name": "告知不予受理及理由"},
                               {"id": "Flow_refused_end", "type": "sequenceFlow", "name": None}]
    assert diff["changed"] == [{"id": "Flow_ineligible", "type": "sequenceFlow", "name": "不符合救助条件", "changes": [
        {"field": "target", "before": "notify_refused", "after": "end_refused"}]}]
    back = diff_definitions(new_bytes, old)
    assert [a["id"] for a in back["added"]] == ["notify_refused", "Flow_refused_end"] and back["removed"] == []
    assert summarise_diff(back) == "新增 2 项，删除 0 项，修改 1 项"


def test_conditions_timers_scripts_and_groups_are_compared() -> None:
    """Condition, timer, script and candidate-group edits each show as their field."""
    new = SHIPPED.replace("workday_deadline(15, green_channel)", "workday_deadline(10, green_channel)")
    new = new.replace('resolution == "assign"', 'resolution == "assign" and len(departments) > 0')
    new = new.replace('notify_applicant("received")', 'notify_applicant("received", channel=channel)')
    new = new.replace('camunda:candidateGroups="joint_office"', 'camunda:candidateGroups="joint_office, center"', 1)
    fields = {c["id"]: {f["field"]: f["after"] for f in c["changes"]}
              for c in diff_definitions(SHIPPED.encode(), new.encode())["changed"]}
    assert fields == {
        "overrun_timer": {"timer": "timeDate: workday_deadline(10, green_channel)"},
        "Flow_conference_assign": {"condition": 'resolution == "assign" and len(departments) > 0'},
        "notify_received": {"script": 'notify_applicant("received", channel=channel)'},
        "joint_plan": {"candidateGroups": "joint_office,center"},
    }


def test_layout_only_change_is_no_difference() -> None:
    """Moving every shape and waypoint in the diagram (BPMN DI) is not a change."""
    moved = re.sub(r'(<(?:dc:Bounds|di:waypoint) x=")(\d+)', r"\g<1>9\2", SHIPPED).encode()
    assert moved != SHIPPED.encode()
    diff = diff_definitions(SHIPPED.encode(), moved)
    assert diff == {"added": [], "removed": [], "changed": []}
    assert summarise_diff(diff) == "无变化"


# -- run_samples -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [s["name"] for s in SAMPLES])
def test_shipped_sample_passes_on_the_shipped_process(name: str) -> None:
    """Each shipped sample reaches its expected end through its expected elements."""
    [result] = run_samples(BPMN_PATH.read_bytes(), [sample(name)], SETTINGS, CALENDAR)
    assert result.status == "passed", result.message
    assert result.end is not None and result.end["id"] == sample(name)["expect"]["end"]
    assert json.loads(json.dumps(result.as_dict(), ensure_ascii=False))["name"] == name


def test_samples_cover_every_element_of_the_shipped_process() -> None:
    """Together the shipped samples pass every flow node and sequence flow of Figure 1."""
    visited: set[str] = set()
    for result in run_samples(BPMN_PATH.read_bytes(), SAMPLES, SETTINGS, CALENDAR):
        visited |= result.elements
    assert set(load_draft(BPMN_PATH.read_bytes()).elements) - visited == set()
    assert len(SAMPLES) >= 6


def test_path_notices_and_end_of_a_single_department_case() -> None:
    """The path lists BPMN elements in completion order (no Spiff internals); notices are captured."""
    [result] = run_samples(BPMN_PATH.read_bytes(), [sample("单部门办理·无需现场")], SETTINGS, CALENDAR)
    ids = [step["id"] for step in result.path]
    assert ids[:10] == ["start", "notify_received", "suggest", "tidy_suggestion", "gw_triage_join", "triage",
                        "review_summary", "gw_triage", "gw_dispatch", "dispatch"]
    assert ids[-4:] == ["dept_handling", "summary", "notify_completed", "end_completed"]
    assert not any(i in ("Start", "End") or "." in i or "[" in i for i in ids)
    assert ids.index("dept_accept") < ids.index("dept_result") < ids.index("dept_work")
    assert {s["department"] for s in result.path if s["id"] == "dept_accept"} == {"minzheng"}
    assert result.notices == ["received", "dispatched", "accepted", "completed"]
    assert result.end == {"id": "end_completed", "name": "办结", "caseStatus": "closed_completed"}
    assert {"Flow_single_dept", "Flow_field_none"} <= result.elements
    assert not {"Flow_multi_dept", "Flow_field_needed", "joint_plan"} & result.elements


def test_three_departments_each_handle_their_own_task() -> None:
    """In the multi-instance each department's task gets that department's values."""
    [result] = run_samples(BPMN_PATH.read_bytes(), [sample("三部门联动并行办理")], SETTINGS, CALENDAR)
    accepted = [s["department"] for s in result.path if s["id"] == "dept_accept"]
    reported = [s["department"] for s in result.path if s["id"] == "field_report"]
    assert sorted(accepted) == ["canlian", "minzheng", "yibao"] and reported == ["canlian"]
    assert result.notices.count("accepted") == 3


def test_wrong_expectation_fails_with_reasons() -> None:
    """A sample expecting 办结 from an ineligible case fails and says why."""
    wrong = sample("不符合救助条件·不予受理",
                   expect={"end": "end_completed", "visits": ["summary"], "not_visits": ["triage"]})
    [result] = run_samples(BPMN_PATH.read_bytes(), [wrong], SETTINGS, CALENDAR)
    assert result.status == "failed"
    assert "期望结束于「办结」，实际结束于「不予受理」" in result.message
    assert "期望经过「办结汇总」，实际未经过" in result.message
    assert "不应经过「一门受理·初步研判」，实际经过了" in result.message
    assert result.end is not None and result.end["caseStatus"] == "closed_declined"


def test_timers_fire_only_when_the_sample_asks() -> None:
    """Without fire_timers the overrun timer never fires, so a sample expecting 督办 fails."""
    quiet = sample("部门办理超期·中心督办", fire_timers=False)
    [result] = run_samples(BPMN_PATH.read_bytes(), [quiet], SETTINGS, CALENDAR)
    assert result.status == "failed" and "期望经过「督办」" in result.message
    assert "supervision" not in result.elements


def test_condition_failing_at_run_time_names_its_flow() -> None:
    """A condition that raises while a case runs is an error at that sequence flow, with the cause."""
    draft = edit(SHIPPED, 'len(departments) == 1', "1 / 0 == 1")
    [result] = run_samples(draft, [sample("单部门办理·无需现场")], SETTINGS, CALENDAR)
    assert result.status == "error"
    assert result.element_id == "Flow_single_dept"
    assert "「研判结果」" in result.message and "除数为零" in result.message
    assert [s["id"] for s in result.path][-1] == "review_summary" and result.end is None


def test_gateway_with_no_true_condition_is_an_error_at_the_gateway() -> None:
    """When no outgoing condition holds, the error names the gateway."""
    draft = edit(SHIPPED, 'decision == "unclear"', 'decision == "unclear_"')
    [result] = run_samples(draft, [sample("实施主体不明确·联席会议不予救助")], SETTINGS, CALENDAR)
    assert (result.status, result.element_id) == ("error", "gw_triage")
    assert "没有可走的出口" in result.message


def test_script_error_names_the_script_task() -> None:
    """A script task raising at run time is an error at that task."""
    draft = edit(SHIPPED, 'notify_applicant("dispatched", departments=departments)', 'x = {}["missing"]')
    [result] = run_samples(draft, [sample("单部门办理·无需现场")], SETTINGS, CALENDAR)
    assert (result.status, result.element_id) == ("error", "dispatch")
    assert result.message.startswith("「分类派单」运行出错")


def test_task_without_a_decision_is_stuck() -> None:
    """A ready user task the sample has no values for stops the run as stuck, naming task and department."""
    partial = sample("三部门联动并行办理")
    del partial["decisions"]["dept_result"]["by_department"]["yibao"]
    [result] = run_samples(BPMN_PATH.read_bytes(), [partial], SETTINGS, CALENDAR)
    assert (result.status, result.element_id) == ("stuck", "dept_result")
    assert "「办结反馈」（医保局）没有样例决定" in result.message
    assert result.end is None and "summary" not in result.elements


def test_sample_values_are_checked_against_the_form() -> None:
    """Values a real user could not submit (form schema) make the sample an error at that task."""
    bad = sample("不符合救助条件·不予受理", decisions={"triage": {"decision": "ineligible"}})
    [result] = run_samples(BPMN_PATH.read_bytes(), [bad], SETTINGS, CALENDAR)
    assert (result.status, result.element_id) == ("error", "triage")
    assert "reason" in result.message and "此项为必填项" in result.message


def test_endless_loop_stops_at_the_step_limit() -> None:
    """A flow that loops forever is stopped after MAX_STEPS steps and reported."""
    draft = edit(SHIPPED, 'sourceRef="notify_declined" targetRef="end_declined"',
                 'sourceRef="notify_declined" targetRef="gw_triage"')
    [result] = run_samples(draft, [sample("实施主体不明确·联席会议不予救助")], SETTINGS, CALENDAR)
    assert result.status == "error" and f"超过 {MAX_STEPS} 步" in result.message
    assert result.notices.count("declined") > 10


def test_trial_scripts_see_the_runtime_helpers() -> None:
    """Scripts in a trial run get exactly the globals the running engine gives them."""
    from engine.cases.runtime import CaseEngine

    trial = SampleRun(load_draft(BPMN_PATH.read_bytes()), sample("不符合救助条件·不予受理"), SETTINGS, CALENDAR)
    assert set(trial.workflow.script_engine.environment.globals) == \
        set(CaseEngine(SETTINGS).workflows.script_engine.environment.globals)


def test_running_samples_touches_no_database(clean_db: str) -> None:
    """Checking and trial-running a draft issue no SQL at all (the listener does see a query made on purpose)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        results = run_samples(BPMN_PATH.read_bytes(), SAMPLES, SETTINGS, CALENDAR)
        problems = check_draft(BPMN_PATH.read_bytes(), BPMN_PATH.name, SETTINGS)
        assert statements == []
        with db.get_engine(clean_db).connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert statements[-1] == "SELECT 1"
    assert {r.status for r in results} == {"passed"} and problems == []


# -- load_samples ------------------------------------------------------------------------------


def write_samples(directory: Path, content: Any) -> None:
    """Write a sample file for process key `demo`."""
    (directory / "demo.yaml").write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")


def test_sample_without_expected_end_is_refused(tmp_path: Path) -> None:
    """A sample missing expect.end is refused with a Chinese message saying which sample and field."""
    broken = sample("单部门办理·无需现场", expect={"visits": ["summary"]})
    write_samples(tmp_path, {"samples": [broken]})
    with pytest.raises(SampleFileError) as refused:
        load_samples("demo", tmp_path)
    assert "第 1 个样例 → expect 缺少必填项 end" in str(refused.value)


def test_sample_file_shape_errors(tmp_path: Path) -> None:
    """Unknown fields, duplicate names, bad by_department and missing files are refused clearly."""
    good = sample("单部门办理·无需现场")
    write_samples(tmp_path, {"samples": [{**good, "expected": {}}]})
    with pytest.raises(SampleFileError, match="不允许的字段 expected"):
        load_samples("demo", tmp_path)
    write_samples(tmp_path, {"samples": [good, good]})
    with pytest.raises(SampleFileError, match="样例名称重复：单部门办理·无需现场"):
        load_samples("demo", tmp_path)
    write_samples(tmp_path, {"samples": [{**good, "decisions": {"dept_accept": {"by_department": {}, "x": 1}}}]})
    with pytest.raises(SampleFileError, match="by_department"):
        load_samples("demo", tmp_path)
    with pytest.raises(SampleFileError, match="没有流程 nosuch 的试运行样例文件"):
        load_samples("nosuch", tmp_path)
    with pytest.raises(SampleFileError, match="不合法"):
        load_samples("../relief_linkage")
    write_samples(tmp_path, {"samples": [good]})
    assert load_samples("demo", tmp_path) == [good]


def test_trial_paths_name_every_step_for_people() -> None:
    """A trial run's path shows names (an unnamed gateway by its kind, a department step with its
    department's name), never a bare element id."""
    [result] = run_samples(BPMN_PATH.read_bytes(), [sample("单部门办理·无需现场")], SETTINGS, CALENDAR)
    names = [step["name"] for step in result.path]
    ids = {step["id"] for step in result.path}
    assert not ids & set(names)
    assert any(name.endswith("（民政局）") for name in names)
