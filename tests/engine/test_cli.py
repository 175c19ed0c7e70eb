"""The `relief` command line: in-process through click's CliRunner, with a few real subprocess smoke tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import relief, relief_process
from tests.support.db import BPMN_PATH, tx


@pytest.fixture
def deployed(clean_db: str) -> str:
    """A clean database with the demo county loaded and the process deployed through the CLI."""
    relief("demo-data", database_url=clean_db)
    result = relief("deploy", str(BPMN_PATH), database_url=clean_db)
    assert result == {"key": "relief_linkage", "version": 1, "changed": True}
    return clean_db


def test_installed_entry_point_runs(clean_db: str) -> None:
    """The installed `relief` script runs as operators run it: init-db, then demo-data and deploy."""
    # the catalog is there already (clean_db sets it up as init-db does), so nothing is seeded twice
    assert relief_process("init-db", database_url=clean_db) == {"ok": True, "matters_seeded": 0}
    assert relief_process("demo-data", database_url=clean_db)["users_created"] > 0
    assert relief_process("deploy", str(BPMN_PATH), database_url=clean_db)["version"] == 1


def test_installed_entry_point_refuses_with_status_one(clean_db: str) -> None:
    """A refusal from the installed script exits 1 with one JSON document."""
    assert relief_process("case", "show", "SJ209901010001", database_url=clean_db, expect=1)["error"] == "not_found"


def test_init_db_is_idempotent(clean_db: str) -> None:
    """`relief init-db` on an up-to-date schema succeeds and changes nothing."""
    assert relief("init-db", database_url=clean_db) == {"ok": True, "matters_seeded": 0}


def test_deploy_twice_is_unchanged(deployed: str) -> None:
    """Redeploying the same file reports the same version, changed false."""
    assert relief("deploy", str(BPMN_PATH), database_url=deployed) == {
        "key": "relief_linkage", "version": 1, "changed": False}


def test_deploy_refusal_exits_nonzero_with_problems(deployed: str, tmp_path: Path) -> None:
    """A broken draft is refused with exit status 1 and its validation problems."""
    draft = tmp_path / "broken.bpmn"
    draft.write_bytes(BPMN_PATH.read_bytes().replace(b'camunda:formKey="summary"', b'camunda:formKey="nope"', 1))
    result = relief("deploy", str(draft), database_url=deployed, expect=1)
    assert result["error"] == "rejected"
    assert any(p["element_id"] == "summary" and p["file"] == "broken.bpmn" for p in result["problems"])


def test_whole_case_through_the_cli(deployed: str, applicant_file: Path) -> None:
    """Start a case, list and complete its tasks, and show the closed case with its history."""
    started = relief("case", "start", "--channel", "window", "--level", "village", "--applicant",
                     str(applicant_file), database_url=deployed)
    assert set(started) == {"case_no", "instance_id"}
    case_no = started["case_no"]
    [task] = relief("task", "list", "--group", "center", database_url=deployed)
    assert set(task) == {"id", "case_no", "name", "form_key", "candidate_groups", "assignee", "created_at",
                         "due_at", "overdue"}
    assert (task["case_no"], task["form_key"], task["overdue"]) == (case_no, "triage", False)
    after = relief("task", "complete", task["id"], "--user", "center1", "--data",
                   json.dumps({"decision": "eligible", "departments": ["yibao"]}), database_url=deployed)
    assert [t["form_key"] for t in after] == ["dept_accept"]
    assert relief("task", "list", "--group", "minzheng", database_url=deployed) == []
    data = {"dept_accept": {"materials": ["医疗费用票据"], "location": "医保局窗口", "field_work": "none"},
            "dept_result": {"outcome": "approved", "content": "医疗救助", "amount": 5000},
            "summary": {"summary": "医保局办结"}}
    for _ in range(3):
        [open_task] = relief("task", "list", "--case", case_no, database_url=deployed)
        relief("task", "complete", open_task["id"], "--user", "u1", "--data",
               json.dumps(data[open_task["form_key"]]), database_url=deployed)
    shown = relief("case", "show", case_no, database_url=deployed)
    assert set(shown) == {"case_no", "status", "definition_version", "open_tasks", "history", "hotline_order_no",
                          "supplement"}
    assert shown["supplement"] is None  # 待补正 only while the case waits for the applicant
    assert (shown["status"], shown["definition_version"], shown["open_tasks"]) == ("closed_completed", 1, [])
    assert all(set(e) >= {"type", "task", "actor", "at", "data"} for e in shown["history"])
    assert [e["type"] for e in shown["history"]][0] == "case_started"
    assert shown["history"][-1]["type"] == "case_closed"


def test_form_errors_are_refused_with_fields(deployed: str, applicant_file: Path) -> None:
    """Completing with data that fails the form schema exits 1 with the field errors in Chinese."""
    relief("case", "start", "--channel", "online", "--level", "county", "--applicant", str(applicant_file),
           database_url=deployed)
    [task] = relief("task", "list", database_url=deployed)
    result = relief("task", "complete", task["id"], "--user", "u", "--data", '{"decision": "maybe"}',
                    database_url=deployed, expect=1)
    assert result["error"] == "invalid" and "decision" in result["errors"]
    assert relief("task", "list", database_url=deployed)[0]["id"] == task["id"]


def test_bad_applicant_is_refused(deployed: str, tmp_path: Path, applicant: dict[str, Any]) -> None:
    """An applicant file with a wrong ID number is refused with exit 1 and no case is created."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**applicant, "id_number": "340524198001010012"}), encoding="utf-8")
    result = relief("case", "start", "--channel", "window", "--level", "county", "--applicant", str(bad),
                    database_url=deployed, expect=1)
    assert "id_number" in result["errors"]
    assert relief("task", "list", database_url=deployed) == []


def test_unknown_case_exits_nonzero(deployed: str) -> None:
    """Showing an unknown case number exits 1 with a not-found error."""
    assert relief("case", "show", "SJ209901010001", database_url=deployed, expect=1)["error"] == "not_found"


@pytest.mark.parametrize(("region", "level", "field", "message"), [
    ({"township": "NOWHERE"}, "county", "region.township", "未知的乡镇(街道)：NOWHERE"),
    ({"township": "T01", "village": "T02V01"}, "village", "region.village", "不属于城东街道"),
    ({"township": "T01"}, "village", "region.village", "须选择申请人所在的村(社区)"),
])
def test_case_start_refuses_a_region_the_county_lacks(deployed: str, tmp_path: Path, applicant: dict[str, Any],
                                                      region: dict[str, str], level: str, field: str,
                                                      message: str) -> None:
    """`relief case start` checks the region like every channel (R-5.1): an unknown township, a village of
    another township or a village-level case without its village exit 1 with a Chinese reason, and
    nothing is created — no application, no case, no task for a township that does not exist."""
    from sqlalchemy import func, select

    from engine.models import Application, HumanTask, ProcessInstance

    path = tmp_path / "applicant.json"
    path.write_text(json.dumps({**applicant, "region": region}, ensure_ascii=False), encoding="utf-8")
    result = relief("case", "start", "--channel", "window", "--level", level, "--applicant", str(path),
                    database_url=deployed, expect=1)
    assert result["error"] == "invalid" and message in "".join(result["errors"][field])
    with tx(deployed) as session:
        assert [session.scalar(select(func.count()).select_from(t)) for t in (Application, ProcessInstance,
                                                                               HumanTask)] == [0, 0, 0]
