"""The `relief` command line, run as a real subprocess against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BPMN_PATH

RELIEF = Path(sys.executable).parent / "relief"


def relief(*args: str, database_url: str, expect: int = 0) -> Any:
    """Run `relief --json ...`; assert the exit status and that stdout is exactly one JSON document."""
    env = {**os.environ, "RELIEF_DATABASE_URL": database_url}
    done = subprocess.run([str(RELIEF), *args, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == expect, done.stderr + done.stdout
    return json.loads(done.stdout)


@pytest.fixture
def deployed(clean_db: str) -> str:
    """A clean database with the process deployed through the CLI."""
    result = relief("deploy", str(BPMN_PATH), database_url=clean_db)
    assert result == {"key": "relief_linkage", "version": 1, "changed": True}
    return clean_db


def test_init_db_is_idempotent(clean_db: str) -> None:
    """`relief init-db` on an up-to-date schema succeeds and changes nothing."""
    assert relief("init-db", database_url=clean_db) == {"ok": True}


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
    assert set(shown) == {"case_no", "status", "definition_version", "open_tasks", "history"}
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
