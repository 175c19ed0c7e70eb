"""The suggestion decision table in the linkage flow (issue 10, R-5.2): the applicant's situation goes
through processes/relief_suggestion.dmn, and the triage form starts with the suggested matters and
departments; the officer decides. The table is data: a new version changes the next suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidData
from tests.support.cases import applicant
from tests.support.db import BPMN_PATH

DMN_PATH = BPMN_PATH.parent / "relief_suggestion.dmn"


def triage_prefill(engine: Any, case_no: str) -> dict[str, Any]:
    [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == "triage"]
    from tests.support.db import principal

    file = engine.files.task_file(principal(engine, "center1"), task["id"])
    return dict(file["task"]["initial"])


@pytest.mark.parametrize(("situation", "matters", "departments"), [
    ({"monthly_income": 600, "serious_illness": True}, ["dibao", "yiliao"], ["minzheng", "yibao"]),
    ({"monthly_income": 1000, "student": True}, ["dibao_bianyuan", "jiaoyu"], ["minzheng", "jiaoyu"]),
    ({"household_type": "tekun", "disability": True, "housing_difficulty": True},
     ["tekun", "canji_liangxiang_butie", "weifang_gaizao"], ["minzheng", "canlian", "zhujian"]),
    ({}, [], []),
])
def test_the_triage_form_starts_with_the_tables_suggestion(case_engine: Any, situation: dict[str, Any],
                                                           matters: list[str], departments: list[str]) -> None:
    case_no, _ = case_engine.start_case(applicant(situation=situation), "window", "village", actor="clerk_v")
    initial = triage_prefill(case_engine, case_no)
    assert initial.get("matters", []) == matters
    assert initial.get("departments", []) == departments


def test_a_situation_that_is_not_one_is_refused_in_chinese(case_engine: Any) -> None:
    with pytest.raises(InvalidData) as refused:
        case_engine.start_case(applicant(situation={"monthly_income": "很少", "pets": 3}), "window", "village")
    assert "数字" in refused.value.errors["situation.monthly_income"][0]
    assert "situation.pets" in refused.value.errors


def test_a_county_edits_the_table_and_the_next_case_follows_it(case_engine: Any) -> None:
    """The county raises its 低保 line to 1000 元: a new version of the decision, no new software."""
    from engine.bpmn.deployment import DeployFile

    edited = DMN_PATH.read_text(encoding="utf-8").replace("&lt; 850", "&lt; 1000")
    edited = edited.replace("850 &lt;= ?", "1000 &lt;= ?")
    decision, process = case_engine.design.deploy_files([DeployFile("relief_suggestion.dmn", edited.encode())],
                                                        "designer1", "低保标准调整为 1000 元")
    assert (decision.kind, decision.version) == ("dmn", 2)
    # The linkage flow follows the new table at once: a version pinning it, its samples passed.
    assert (process.key, process.version, process.changed) == ("relief_linkage", 2, True)
    case_no, _ = case_engine.start_case(applicant(situation={"monthly_income": 950}), "window", "village")
    assert triage_prefill(case_engine, case_no)["matters"] == ["dibao"]
