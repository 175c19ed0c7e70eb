"""Deploy-time validation: hostile XML, XSD errors and the product's lint are refused with locations."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bpmn.definitions import validate
from engine.bpmn.loader import BpmnRejected
from tests.support.db import BPMN_PATH, suite_settings

SETTINGS = suite_settings()

GOOD = BPMN_PATH.read_bytes()
PROLOG = b'<?xml version="1.0" encoding="UTF-8"?>'


def body() -> bytes:
    """The shipped BPMN without its XML declaration, to put hostile prologs in front of it."""
    return GOOD.split(b"?>", 1)[1] if GOOD.startswith(b"<?xml") else GOOD


def refused(xml: bytes) -> list[Any]:
    """Validate `xml`, expecting refusal; return the problems."""
    with pytest.raises(BpmnRejected) as rejection:
        validate(xml, "draft.bpmn", SETTINGS)
    assert rejection.value.problems
    return rejection.value.problems


def test_shipped_process_validates() -> None:
    """processes/relief_linkage.bpmn passes every deploy check."""
    model = validate(GOOD, "relief_linkage.bpmn", SETTINGS)
    assert model.key == "relief_linkage"
    assert {t.form_key for t in model.user_tasks.values()} == {
        "triage", "joint_plan", "joint_conference", "dept_accept", "field_report", "dept_result",
        "summary", "supervision", "supplement_overdue"}
    assert all(t.due_workdays > 0 for t in model.user_tasks.values())
    assert model.end_statuses["end_refused"] == "closed_declined"
    assert model.end_statuses["end_declined"] == "closed_declined"
    assert model.end_statuses["end_completed"] == "closed_completed"


XXE = PROLOG + b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + body().replace(
    b'name="\xe7\xa4\xbe', b'name="&xxe;\xe7\xa4\xbe', 1)
BILLION_LAUGHS = PROLOG + b"""<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<lolz>&lol9;</lolz>"""
PLAIN_DOCTYPE = PROLOG + b"<!DOCTYPE definitions>" + body()
EXTERNAL_DTD = PROLOG + b'<!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd">' + body()
PARAMETER_ENTITY = PROLOG + b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>' + body()
UTF16_DOCTYPE = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'
                 .encode("utf-16"))


@pytest.mark.parametrize("xml", [XXE, BILLION_LAUGHS, PLAIN_DOCTYPE, EXTERNAL_DTD, PARAMETER_ENTITY, UTF16_DOCTYPE],
                         ids=["xxe", "billion-laughs", "doctype", "external-dtd", "parameter-entity", "utf16"])
def test_doctype_and_entities_are_refused(xml: bytes) -> None:
    """Any DOCTYPE (XXE, billion laughs, external DTD) is refused before anything is expanded."""
    problems = refused(xml)
    assert any("DOCTYPE" in p.message for p in problems)
    assert all("root:" not in p.message for p in problems)  # /etc/passwd content never appears


def test_malformed_xml_names_the_line() -> None:
    """Malformed XML is refused with the line of the error."""
    broken = GOOD.replace(b"</bpmn:process>", b"</bpmn:proces>", 1)
    [problem] = refused(broken)
    assert problem.line and problem.line > 1 and "XML" in problem.message


def test_xsd_violation_names_line_and_element() -> None:
    """An element the BPMN XSD does not allow is refused with its line."""
    bad = GOOD.replace(b'<bpmn:userTask id="triage"', b'<bpmn:userTask id="triage" bogus="1"', 1)
    problems = refused(bad)
    assert any("XSD" in p.message and p.element_id == "triage" for p in problems)


def test_unknown_form_key_is_refused() -> None:
    """A user task naming a form that forms/ lacks is refused with the element id."""
    bad = GOOD.replace(b'camunda:formKey="summary"', b'camunda:formKey="no_such_form"', 1)
    problems = refused(bad)
    assert any(p.element_id == "summary" and "no_such_form" in p.message for p in problems)


def test_unknown_candidate_group_is_refused() -> None:
    """A literal candidate group that is neither a role nor an organisation is refused."""
    bad = GOOD.replace(b'camunda:candidateGroups="joint_office"', b'camunda:candidateGroups="nobody"', 1)
    problems = refused(bad)
    assert any("nobody" in p.message and p.line for p in problems)


def test_invalid_due_property_is_refused() -> None:
    """dueWorkdays must be a whole number of working days."""
    start = GOOD.index(b'id="triage"')
    head, tail = GOOD[:start], GOOD[start:]
    bad = head + tail.replace(b'name="dueWorkdays" value="2"', b'name="dueWorkdays" value="two"', 1)
    problems = refused(bad)
    assert any(p.element_id == "triage" and "dueWorkdays" in p.message for p in problems)


@pytest.mark.parametrize("expression", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "[x for x in ().__class__.__mro__]",
])
def test_condition_escaping_the_sandbox_is_refused(expression: str) -> None:
    """A sequence-flow condition that does not compile under RestrictedPython is refused at deploy."""
    bad = GOOD.replace(b'decision == "unclear"', expression.encode().replace(b"'", b"&apos;"), 1)
    problems = refused(bad)
    assert any("沙箱" in p.message and p.element_id and p.element_id.startswith("Flow") for p in problems)


def test_script_escaping_the_sandbox_is_refused() -> None:
    """A script task that imports a module is refused at deploy with the script task's id."""
    bad = GOOD.replace(b'notify_applicant("received")', b"import os\nos.system('id')", 1)
    problems = refused(bad)
    assert any(p.element_id == "notify_received" and "沙箱" in p.message for p in problems)


def test_timer_expression_escaping_the_sandbox_is_refused() -> None:
    """Timer expressions are compiled by the sandbox too."""
    bad = GOOD.replace(b"workday_deadline(15, green_channel)", b"workday_deadline.__globals__", 1)
    problems = refused(bad)
    assert any(p.element_id == "overrun_timer" for p in problems)


def test_redeploying_identical_xml_is_a_no_op(case_engine: Any) -> None:
    """Deploying the same bytes again keeps the version; a changed file is the next version."""
    again = case_engine.deploy(GOOD, "relief_linkage.bpmn", "designer")
    assert (again.version, again.changed) == (1, False)
    renamed = GOOD.replace("办结汇总".encode(), "办结汇总(新)".encode(), 1)
    changed = case_engine.deploy(renamed, "relief_linkage.bpmn", "designer", "rename")
    assert (changed.version, changed.changed) == (2, True)
    assert [d.version for d in case_engine.queries.definitions() if d.kind == "bpmn"] == [2, 1]
    assert case_engine.queries.definitions()[0].comment == "rename"


def test_deploy_refuses_a_flow_that_strands_cases(case_engine: Any) -> None:
    """Deploy applies the modeler's reachability check: a task that cannot reach an end is refused, nothing stored."""
    from tests.support.bpmn import without_flow

    with pytest.raises(BpmnRejected) as refused:
        case_engine.deploy(without_flow("Flow_summary_completed"), "relief_linkage.bpmn", "designer1", "断开")
    assert any("结束事件" in p.message for p in refused.value.problems)
    assert [d.version for d in case_engine.queries.definitions() if d.kind == "bpmn"] == [1]
