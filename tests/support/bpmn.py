"""Variants of the shipped linkage process for tests: renamed steps, ids, an added step, a lost flow,
a condition that fails at run time."""

from __future__ import annotations

import re
from typing import Any

from engine.bpmn.design.samples import load_samples
from tests.support.db import BPMN_PATH

SHIPPED = BPMN_PATH.read_text(encoding="utf-8")
SHIPPED_SAMPLES = len(load_samples("relief_linkage"))  # processes/samples/relief_linkage.yaml
TRIAGE_LABEL, RESULT_LABEL = "一门受理·初步研判", "办结反馈"
INELIGIBLE = 'decision == "ineligible"</bpmn:conditionExpression>'


def edit(xml: str, old: str, new: str, regex: bool = False) -> bytes:
    """Return `xml` with one edit applied, failing loudly if the edit matched nothing."""
    edited = re.sub(old, new, xml, count=1, flags=re.S) if regex else xml.replace(old, new, 1)
    assert edited != xml, f"edit did not apply: {old!r}"
    return edited.encode("utf-8")


def without_flow(flow_id: str) -> bytes:
    """The shipped process with one sequence flow deleted (its DI edge stays, as a modeler may leave it)."""
    return edit(SHIPPED, rf'<bpmn:sequenceFlow id="{flow_id}"[^>]*/>', "", regex=True)


def moved_shape(xml: bytes) -> bytes:
    """The same process with one diagram shape moved: a layout-only (仅布局) version."""
    text = xml.decode()
    shape = text.index('bpmnElement="triage"')
    bounds = text.index('x="', shape)
    return (text[:bounds] + 'x="1' + text[bounds + 3:]).encode()


def without_triage() -> bytes:
    """The modeler's draft after deleting 一门受理 and joining its flows: valid, but every sample fails."""
    text = edit(SHIPPED, r'<bpmn:userTask id="triage".*?</bpmn:userTask>', "", regex=True).decode()
    text = text.replace('<bpmn:sequenceFlow id="Flow_triage_review" sourceRef="triage" targetRef="review_summary" />',
                        "")
    text = text.replace('targetRef="triage"', 'targetRef="review_summary"')  # the join goes on to 审查 directly
    text = text.replace("<bpmn:incoming>Flow_triage_review</bpmn:incoming>",
                        "<bpmn:incoming>Flow_join_triage</bpmn:incoming>")
    text = text.replace("<bpmn:flowNodeRef>triage</bpmn:flowNodeRef>", "")
    return edit(text, r'<bpmndi:BPMN(Shape|Edge) id="(triage|Flow_triage_review)_di".*?</bpmndi:BPMN(Shape|Edge)>', "",
                regex=True)


def relabelled(xml: bytes) -> bytes:
    """Version 2: the same flow with two user tasks (one inside the department subprocess) renamed."""
    text = xml.decode()
    text = text.replace(f'name="{TRIAGE_LABEL}"', f'name="{TRIAGE_LABEL}(第2版)"', 1)
    return text.replace(f'name="{RESULT_LABEL}"', f'name="{RESULT_LABEL}(第2版)"', 1).encode()


def renamed_id(xml: bytes, old: str, new: str) -> bytes:
    """A version in which the element `old` got the id `new` (references and diagram follow)."""
    text = xml.decode()
    for pattern in ('id="{}"', 'Ref="{}"', 'bpmnElement="{}"', "<bpmn:flowNodeRef>{}<"):
        text = text.replace(pattern.format(old), pattern.format(new))
    return text.encode()


def with_step(xml: bytes, flow_id: str, step_id: str) -> bytes:
    """A version with a new 复核 user task (center, supervision form) on the sequence flow `flow_id`."""
    text = xml.decode()
    flow = re.search(rf'<bpmn:sequenceFlow id="{flow_id}" sourceRef="(\w+)" targetRef="(\w+)" />', text)
    assert flow is not None
    source, target, out = flow.group(1), flow.group(2), f"Flow_{step_id}_out"
    text = re.sub(rf'(<bpmn:\w+ id="{target}".*?<bpmn:incoming>){flow_id}<', rf"\g<1>{out}<", text,
                  count=1, flags=re.S)
    step = (f'<bpmn:userTask id="{step_id}" name="复核" camunda:formKey="supervision" camunda:candidateGroups="center">'
            '<bpmn:extensionElements><camunda:properties><camunda:property name="dueWorkdays" value="1" />'
            f'</camunda:properties></bpmn:extensionElements><bpmn:incoming>{flow_id}</bpmn:incoming>'
            f'<bpmn:outgoing>{out}</bpmn:outgoing></bpmn:userTask>\n    '
            f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{step_id}" />\n    '
            f'<bpmn:sequenceFlow id="{out}" sourceRef="{step_id}" targetRef="{target}" />')
    return text.replace(flow.group(0), step).encode()


def with_broken_condition(xml: bytes) -> bytes:
    """A version whose 不予受理 condition names a variable the case data lacks (fails at run time only)."""
    text = xml.decode()
    assert INELIGIBLE in text
    return text.replace(INELIGIBLE, 'priority &gt; 0 and decision == "ineligible"</bpmn:conditionExpression>').encode()


def deploy(engine: Any, xml: bytes) -> int:
    """Deploy a new version of the linkage process and return its number.

    Test variants (a broken condition, an added step the samples do not answer) would be refused by
    the sample gate; they are deployed the way an administrator forces one, with a reason.
    """
    result = engine.deploy(xml, "relief_linkage.bpmn", "designer1", "测试版本", despite_samples=True,
                           reason="测试用流程变体")
    assert result.changed
    return int(result.version)
