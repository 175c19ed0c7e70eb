"""Any process, not one (issue 10): processes of their own key start by key, and user tasks written
the Camunda 7 / SpiffArena way — candidate users, an assignee, camunda:dueDate, lanes, no form key,
no assignment at all — reach the right people's inboxes and complete on the generic form."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import clock
from engine.cases.inbox import TaskQuery
from engine.errors import InvalidData, NotDeployed
from tests.support.cli import relief
from tests.support.db import principal

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bpmn"


def deploy_file(engine: Any, name: str) -> Any:
    return engine.deploy((CORPUS / name).read_bytes(), name, "designer1", f"部署 {name}")


def inbox(engine: Any, username: str) -> list[dict[str, Any]]:
    return list(engine.inbox.tasks(principal(engine, username), TaskQuery()).items)


def test_a_camunda_style_process_deploys_starts_and_completes_in_the_inbox(case_engine: Any) -> None:
    """candidateUsers mz1,yb1 with dueDate P3D; then the generic form's choice leads the gateway;
    the assignee center1 gets the next task, with the fixed due date."""
    assert deploy_file(case_engine, "camunda_leave.bpmn").key == "material_check"
    started = clock.now()
    case_no, _ = case_engine.start_process("material_check", {"note": "核对低保材料"}, "designer1")
    assert case_no.startswith("LC")
    [check] = inbox(case_engine, "mz1")
    assert check["name"] == "核对材料" and check["form_key"] == "generic"
    assert sorted(check["candidate_groups"]) == ["user:mz1", "user:yb1"]
    assert [t["id"] for t in inbox(case_engine, "yb1")] == [check["id"]]
    assert inbox(case_engine, "town1") == []
    due = clock.aware(datetime.fromisoformat(check["due_at"]))
    assert abs(due - (started + timedelta(days=3))) < timedelta(minutes=1)
    mz1 = principal(case_engine, "mz1")
    with pytest.raises(InvalidData) as refused:
        case_engine.complete_task(check["id"], "mz1", {"comment": "看过了"}, principal=mz1)
    assert "齐全、需补充" in refused.value.errors["choice"][0]
    case_engine.complete_task(check["id"], "mz1", {"choice": "齐全", "comment": "材料齐全"}, principal=mz1)
    [approve] = inbox(case_engine, "center1")
    assert (approve["name"], approve["assignee"]) == ("中心确认", "center1")
    assert clock.local_text(approve["due_at"]) == "2099-01-31 23:59"  # a date is due at the end of that day
    case_engine.complete_task(approve["id"], "center1", {}, principal=principal(case_engine, "center1"))
    shown = case_engine.queries.show_case(case_no)
    assert shown["status"] == "closed_completed" and shown["open_tasks"] == []


def test_a_task_naming_no_one_goes_to_the_staff_member_who_started_it(case_engine: Any) -> None:
    """SpiffArena's rule: 通知补充材料 names no one, so designer1 (who started the process) gets it."""
    deploy_file(case_engine, "camunda_leave.bpmn")
    case_engine.start_process("material_check", {}, "designer1")
    [check] = inbox(case_engine, "mz1")
    case_engine.complete_task(check["id"], "mz1", {"choice": "需补充"}, principal=principal(case_engine, "mz1"))
    [follow_up] = inbox(case_engine, "designer1")
    assert (follow_up["name"], follow_up["assignee"], follow_up["due_at"]) == ("通知补充材料", "designer1", None)
    assert inbox(case_engine, "mz1") == []


def test_lanes_are_candidate_groups_by_code_or_by_name(case_engine: Any) -> None:
    """A task in the lane 民政局 goes to minzheng, one in the lane center to the center; the process's
    default dueWorkdays (2) applies to both."""
    deploy_file(case_engine, "spiff_lanes.bpmn")
    case_engine.start_process("lane_signoff", {}, "cli")
    [first] = inbox(case_engine, "mz1")
    assert (first["name"], first["candidate_groups"]) == ("民政局会签", ["minzheng"]) and first["due_at"]
    case_engine.complete_task(first["id"], "mz1", {"comment": "同意"}, principal=principal(case_engine, "mz1"))
    [second] = [t for t in inbox(case_engine, "center1") if t["name"] == "中心会签"]
    assert second["candidate_groups"] == ["center"]


def test_start_refuses_an_unknown_process_and_bad_variable_names(case_engine: Any) -> None:
    with pytest.raises(NotDeployed):
        case_engine.start_process("no_such_process", {}, "cli")
    deploy_file(case_engine, "spiff_lanes.bpmn")
    with pytest.raises(InvalidData) as bad:
        case_engine.start_process("lane_signoff", {"_getattr_": 1}, "cli")
    assert "下划线" in bad.value.errors["data"][0]


def test_relief_case_start_by_process_key_with_data(demo_db: str, tmp_path: Path) -> None:
    relief("deploy", str(CORPUS / "spiff_lanes.bpmn"), database_url=demo_db)
    started = relief("case", "start", "--process", "lane_signoff", "--data", '{"topic": "会签"}',
                     database_url=demo_db)
    assert started["process"] == "lane_signoff" and started["case_no"].startswith("LC")
    shown = relief("case", "show", started["case_no"], database_url=demo_db)
    assert [t["name"] for t in shown["open_tasks"]] == ["民政局会签"]
    missing = relief("case", "start", database_url=demo_db, expect=1)
    assert missing["error"] == "invalid" and "--applicant" in missing["errors"]["applicant"][0]


def files(*names: str) -> list[Any]:
    from engine.bpmn.deployment import DeployFile

    return [DeployFile(name, (CORPUS / name).read_bytes()) for name in names]


def test_a_collaboration_deploys_each_executable_process(case_engine: Any) -> None:
    results = case_engine.design.deploy_files(files("collaboration_pair.bpmn"), "designer1", "两个流程")
    assert sorted((r.key, r.version, r.changed) for r in results) == [("home_visit", 1, True),
                                                                      ("phone_callback", 1, True)]
    case_no, _ = case_engine.start_process("phone_callback", {}, "cli")
    assert [t["name"] for t in case_engine.queries.show_case(case_no)["open_tasks"]] == ["电话回访"]
    assert [t["name"] for t in inbox(case_engine, "town1")] == []
    case_engine.start_process("home_visit", {}, "cli")
    assert [t["name"] for t in inbox(case_engine, "town1")] == ["入户走访"]


def test_a_call_activity_across_two_files_resolves_when_deployed_together(case_engine: Any) -> None:
    """Alone the caller is refused, naming the missing callee; together they deploy, the caller pinned
    to the callee's version, and a case runs through the child's task into the parent's."""
    from engine.bpmn.loader import BpmnRejected

    with pytest.raises(BpmnRejected) as alone:
        case_engine.design.deploy_files(files("review_parent.bpmn"), "designer1", "只有父流程")
    assert "调用的流程 'review_child' 未部署，也不在本次部署的文件中" in str(alone.value)
    results = {r.key: r for r in case_engine.design.deploy_files(
        files("review_parent.bpmn", "review_child.bpmn"), "designer1", "一起部署")}
    assert set(results) == {"review_parent", "review_child"}
    case_no, _ = case_engine.start_process("review_parent", {}, "cli")
    [verify] = inbox(case_engine, "mz1")
    assert verify["name"] == "部门核查" and verify["case_no"] == case_no
    case_engine.complete_task(verify["id"], "mz1", {"comment": "属实"}, principal=principal(case_engine, "mz1"))
    assert [t["name"] for t in case_engine.queries.show_case(case_no)["open_tasks"]] == ["复核结论"]


def test_a_caller_deployed_later_finds_the_deployed_callee(case_engine: Any) -> None:
    case_engine.design.deploy_files(files("review_child.bpmn"), "designer1", "子流程")
    [result] = case_engine.design.deploy_files(files("review_parent.bpmn"), "designer1", "父流程")
    assert (result.key, result.changed) == ("review_parent", True)
    assert case_engine.design.problems((CORPUS / "review_parent.bpmn").read_bytes(), "review_parent", "p.bpmn") == []


def test_a_business_rule_task_runs_its_decision_table(case_engine: Any) -> None:
    """The DMN decides in the sandbox; its output is in the process data the next task sees."""
    from engine.bpmn.loader import BpmnRejected

    with pytest.raises(BpmnRejected) as alone:
        case_engine.design.deploy_files(files("rule_check.bpmn"), "designer1", "没有决策表")
    assert "决策表 'income_rule' 未部署" in str(alone.value)
    kinds = {(r.key, r.kind) for r in case_engine.design.deploy_files(
        files("rule_check.bpmn", "income_rule.dmn"), "designer1", "规则")}
    assert kinds == {("income_check", "bpmn"), ("income_rule", "dmn")}
    for income, level in ((650, "低于低保标准"), (1200, "不低于低保标准")):
        case_no, _ = case_engine.start_process("income_check", {"monthly_income": income}, "cli")
        workflow = case_engine.queries.restore_workflow(case_no)
        [confirm] = [t for t in workflow.get_tasks() if t.task_spec.name == "confirm"]
        assert confirm.data["income_level"] == level


@pytest.mark.parametrize(("cell", "words"), [("[1..5]", "不支持 FEEL"), ("().__class__", "沙箱"),
                                             ("< 10**10**10", "计算量过大")])
def test_decision_cells_go_through_the_sandbox_and_the_lint(case_engine: Any, cell: str, words: str) -> None:
    from engine.bpmn.deployment import DeployFile
    from engine.bpmn.loader import BpmnRejected

    dmn = (CORPUS / "income_rule.dmn").read_text(encoding="utf-8").replace("&lt; 800", cell.replace("<", "&lt;"))
    with pytest.raises(BpmnRejected) as refused:
        case_engine.design.deploy_files([*files("rule_check.bpmn"), DeployFile("income_rule.dmn", dmn.encode())],
                                        "designer1", "坏单元格")
    assert words in str(refused.value)


def test_juel_and_java_delegates_are_refused_saying_what_is_unsupported(case_engine: Any) -> None:
    from engine.bpmn.loader import BpmnRejected

    with pytest.raises(BpmnRejected) as refused:
        deploy_file(case_engine, "juel_condition.bpmn")
    messages = {p.element_id: p.message for p in refused.value.problems}
    assert "表达式须为 Python，不支持 JUEL" in messages["f_high"]
    assert "camunda:class" in messages["notify"] and "没有注册的处理程序" in messages["notify"]


@pytest.mark.parametrize(("name", "key"), [("utf16_lanes.bpmn", "lane_signoff_utf16"),
                                           ("gbk_lanes.bpmn", "lane_signoff_gbk")])
def test_corpus_files_in_utf16_and_gbk_deploy_and_start(case_engine: Any, name: str, key: str) -> None:
    assert deploy_file(case_engine, name).key == key
    case_no, _ = case_engine.start_process(key, {}, "cli")
    assert [t["name"] for t in case_engine.queries.show_case(case_no)["open_tasks"]] == ["民政局会签"]


def test_relief_deploy_takes_several_files_and_zips(demo_db: str, tmp_path: Path) -> None:
    """`relief deploy a.bpmn b.bpmn rules.dmn` and a zip of them deploy together; a bad zip is refused."""
    import zipfile

    names = ("rule_check.bpmn", "income_rule.dmn", "review_parent.bpmn", "review_child.bpmn")
    deployed = relief("deploy", *(str(CORPUS / n) for n in names[:2]), database_url=demo_db)
    assert {(d["key"], d.get("kind", "bpmn")) for d in deployed} == {("income_check", "bpmn"), ("income_rule", "dmn")}
    bundle = tmp_path / "review.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for name in names[2:]:
            archive.write(CORPUS / name, f"review/{name}")
    assert {d["key"] for d in relief("deploy", str(bundle), database_url=demo_db)} == {"review_parent",
                                                                                      "review_child"}
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not really")
    refused = relief("deploy", str(broken), database_url=demo_db, expect=1)
    assert "不是有效的 zip 文件" in refused["problems"][0]["message"]


def test_a_message_start_event_starts_its_process(case_engine: Any, demo_db: str) -> None:
    """`relief case message relief_clue --data …` starts every process whose start event waits for it."""
    deploy_file(case_engine, "message_start.bpmn")
    [started] = case_engine.start_by_message("relief_clue", {"reporter": "东湖社区"}, "cli")
    assert started["process"] == "clue_followup"
    shown = case_engine.queries.show_case(started["case_no"])
    assert [t["name"] for t in shown["open_tasks"]] == ["核实线索"]
    workflow = case_engine.queries.restore_workflow(started["case_no"])
    [verify] = [t for t in workflow.get_tasks() if t.task_spec.name == "verify_clue"]
    assert verify.data["reporter"] == "东湖社区" and verify.data["message"] == {"reporter": "东湖社区"}
    from engine.errors import NotFound

    with pytest.raises(NotFound):
        case_engine.start_by_message("no_such_message", {}, "cli")


def test_relief_case_message(demo_db: str) -> None:
    relief("deploy", str(CORPUS / "message_start.bpmn"), database_url=demo_db)
    [started] = relief("case", "message", "relief_clue", "--data", '{"reporter": "村委会"}', database_url=demo_db)
    assert started["process"] == "clue_followup"
    assert relief("case", "message", "nobody_listens", database_url=demo_db, expect=1)["error"] == "not_found"
