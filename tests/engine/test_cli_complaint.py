"""`relief complaint file`: a complaint from the shell, through the same check and process as every channel."""

from __future__ import annotations

import pytest

from engine.settings import PROJECT_ROOT
from tests.support.cli import relief

COMPLAINT_BPMN = PROJECT_ROOT / "processes" / "complaint.bpmn"


@pytest.fixture
def deployed(clean_db: str) -> str:
    """The demo county with the complaint process deployed through the CLI."""
    relief("demo-data", database_url=clean_db)
    assert relief("deploy", str(COMPLAINT_BPMN), database_url=clean_db)["key"] == "complaint"
    return clean_db


def test_file_prints_the_number_and_query_code(deployed: str) -> None:
    """The --json contract: exactly {complaint_no, query_code}; the complaint is handled by the organisation
    named with --about (its name or code), linked to nothing, anonymous without a name or phone."""
    result = relief("complaint", "file", "--channel", "phone", "--text", "窗口推诿", "--about", "城东街道",
                    database_url=deployed)
    assert set(result) == {"complaint_no", "query_code"}
    assert result["complaint_no"].startswith("TS") and len(result["query_code"]) == 8
    [task] = relief("task", "list", "--case", result["complaint_no"], database_url=deployed)
    assert (task["form_key"], task["candidate_groups"]) == ("complaint_handle", ["T01"])


def test_a_12345_complaint_needs_a_caller_and_gets_no_query_code(deployed: str) -> None:
    """--channel hotline without --name is refused (a 12345 caller is never anonymous); with one it is filed,
    and 12345 follows it, not a query code."""
    refused = relief("complaint", "file", "--channel", "hotline", "--text", "态度差", database_url=deployed, expect=1)
    assert refused["error"] == "invalid" and "name" in refused["errors"]
    filed = relief("complaint", "file", "--channel", "hotline", "--text", "态度差", "--name", "李四", "--phone",
                   "13900001111", "--type", "attitude", database_url=deployed)
    assert filed["query_code"] is None


def test_refusals_exit_one_with_the_reasons(deployed: str) -> None:
    """An unknown case, organisation or type: exit 1 and every field named."""
    result = relief("complaint", "file", "--channel", "portal", "--text", "x", "--case", "SJ209901010001",
                    "--about", "NOWHERE", "--type", "nope", database_url=deployed, expect=1)
    assert result["error"] == "invalid"
    assert set(result["errors"]) == {"case_no", "about_org", "complaint_type"}
    assert "未找到案件 SJ209901010001" in result["errors"]["case_no"][0]
