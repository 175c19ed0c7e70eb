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
