"""Samples gate deploy (issue 10): a draft whose sample cases fail is refused on every path — the
engine, `relief deploy` — with the failing samples listed; an administrator may force it with a
reason, which the audit log keeps; and a case that stops in error tells the center's supervisors and
the administrators in the app."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.bpmn.design.studio import SamplesFailed
from engine.bpmn.sandbox import SandboxError
from engine.errors import InvalidData
from engine.models import AuditLog, Notification, ProcessDefinition
from tests.support.bpmn import SHIPPED, SHIPPED_SAMPLES, deploy, edit, with_broken_condition, without_triage
from tests.support.cli import relief
from tests.support.db import BPMN_PATH, tx


def versions(url: str) -> list[int]:
    with tx(url) as session:
        return list(session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.kind == "bpmn")
                                    .order_by(ProcessDefinition.version)))


def test_the_draft_without_triage_passes_the_checks(case_engine: Any) -> None:
    """The draft the issue describes: the checks find nothing wrong (it is the samples that do)."""
    assert case_engine.design.problems(without_triage(), "relief_linkage", "draft.bpmn") == []


def test_a_draft_failing_its_samples_is_refused_with_them(case_engine: Any, clean_db: str) -> None:
    """Nothing is stored; the refusal names every failing sample with what went wrong."""
    with pytest.raises(SamplesFailed) as refused:
        case_engine.deploy(without_triage(), "relief_linkage.bpmn", "designer1", "删掉受理")
    assert len(refused.value.results) == SHIPPED_SAMPLES
    assert f"{SHIPPED_SAMPLES} 个样例中有 {SHIPPED_SAMPLES} 个未按预期运行，未部署" in refused.value.message
    assert all(r.status != "passed" and r.message for r in refused.value.results)
    assert refused.value.as_dict()["samples"][0]["name"] == "不符合救助条件·不予受理"
    assert versions(clean_db) == [1]


def test_an_administrator_forces_it_with_a_reason_which_is_audited(case_engine: Any, clean_db: str) -> None:
    with pytest.raises(InvalidData) as blank:
        case_engine.deploy(without_triage(), "relief_linkage.bpmn", "admin1", "删掉受理", despite_samples=True,
                           reason="  ")
    assert "reason" in blank.value.errors
    result = case_engine.deploy(without_triage(), "relief_linkage.bpmn", "admin1", "删掉受理",
                                despite_samples=True, reason="演示：受理改由窗口线下完成")
    assert (result.changed, result.version) == (True, 2)
    with tx(clean_db) as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "deploy_despite_samples"))
    assert entry.actor == "admin1" and entry.target == "relief_linkage@v2"
    assert entry.details["despite_samples"] == "演示：受理改由窗口线下完成"
    assert len(entry.details["samples_failed"]) == SHIPPED_SAMPLES


def test_a_draft_passing_its_samples_deploys_with_the_count_audited(case_engine: Any, clean_db: str) -> None:
    renamed = SHIPPED.replace('name="一门受理·初步研判"', 'name="一门受理·初步研判（新）"', 1).encode()
    assert case_engine.deploy(renamed, "relief_linkage.bpmn", "designer1", "改名").version == 2
    with tx(clean_db) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "deploy_definition")
                                .order_by(AuditLog.id.desc())).first()
    assert entry is not None
    assert entry.details["samples_passed"] == SHIPPED_SAMPLES and entry.details["samples_failed"] == []


def test_relief_deploy_refuses_then_forces(county_db: str, tmp_path: Any) -> None:
    """`relief deploy` runs the samples too; --despite-samples needs --reason."""
    relief("deploy", str(BPMN_PATH), database_url=county_db)
    draft = tmp_path / "draft.bpmn"
    draft.write_bytes(without_triage())
    refused = relief("deploy", str(draft), database_url=county_db, expect=1)
    assert refused["error"] == "samples_failed" and len(refused["samples"]) == SHIPPED_SAMPLES
    no_reason = relief("deploy", str(draft), "--despite-samples", database_url=county_db, expect=1)
    assert no_reason["error"] == "invalid" and "reason" in no_reason["errors"]
    forced = relief("deploy", str(draft), "--despite-samples", "--reason", "演示", "--by", "admin1",
                    database_url=county_db)
    assert forced == {"key": "relief_linkage", "version": 2, "changed": True}


def test_a_case_in_error_tells_the_center_supervisors_and_administrators(
        case_engine: Any, start_case: Any, county_db: str) -> None:
    """R-5.2: no case stops unseen — center1 (center supervisor) and admin1 get an in-app notice; the
    department supervisor and staff without the role do not."""
    deploy(case_engine, with_broken_condition(BPMN_PATH.read_bytes()))
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    assert case.show()["status"] == "error"
    with tx(county_db) as session:
        notices = session.scalars(select(Notification).where(Notification.kind == "case_error")).all()
    assert sorted(n.username for n in notices) == ["admin1", "center1"]
    assert all(n.case_no == case.case_no and "流程出错" in n.content and n.channel == "in_app" for n in notices)


def test_the_budget_payloads_are_refused_at_deploy(case_engine: Any) -> None:
    """At deploy the obvious payloads are refused outright, in the checks, before any sample runs."""
    xml = edit(SHIPPED, 'decision == "ineligible"</bpmn:conditionExpression>',
               'sum(range(10**12)) &gt; 0</bpmn:conditionExpression>')
    problems = case_engine.design.problems(xml, "relief_linkage", "draft.bpmn")
    assert any("计算量过大" in p.message and p.element_id == "Flow_ineligible" for p in problems)
    with pytest.raises(SandboxError):
        from engine.bpmn.sandbox import compile_expression
        compile_expression("10**10**10")
