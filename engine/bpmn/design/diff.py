"""Compare two versions of a process element by element (版本差异), ignoring the diagram layout.

Elements are matched by id at every nesting level. Only what changes how a case runs is
compared — names, forms, groups, deadlines, conditions, timers, scripts and the wiring — so
moving shapes in the modeler (BPMN DI) is never a change.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.bpmn.elements import flow_elements, local_name, processes
from engine.bpmn.loader import CAMUNDA_NS, NS, parse_safely
from engine.bpmn.usertasks import split_list

FIELDS = ("type", "name", "formKey", "candidateGroups", "dueWorkdays", "caseStatus", "condition", "timer",
          "script", "source", "target", "attachedTo", "default")
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")


def diff_definitions(old_xml: bytes, new_xml: bytes) -> dict[str, list[dict[str, Any]]]:
    """Return the elements added, removed and changed from `old_xml` to `new_xml`.

    :raises BpmnRejected: when either document is not safe, well-formed XML.
    """
    old, new = _elements(old_xml, "old.bpmn"), _elements(new_xml, "new.bpmn")
    changed = []
    for element_id in (i for i in new if i in old):
        before, after = old[element_id], new[element_id]
        changes = [{"field": f, "before": before[f], "after": after[f]} for f in FIELDS if before[f] != after[f]]
        if changes:
            changed.append({**_item(element_id, after), "changes": changes})
    return {
        "added": [_item(i, new[i]) for i in new if i not in old],
        "removed": [_item(i, old[i]) for i in old if i not in new],
        "changed": changed,
    }


def summarise_diff(diff: dict[str, list[dict[str, Any]]]) -> str:
    """Return a one-line Chinese summary of a `diff_definitions` result."""
    counts = {key: len(diff.get(key, [])) for key in ("added", "removed", "changed")}
    if not any(counts.values()):
        return "无变化"
    return f"新增 {counts['added']} 项，删除 {counts['removed']} 项，修改 {counts['changed']} 项"


def _item(element_id: str, fields: dict[str, str | None]) -> dict[str, Any]:
    return {"id": element_id, "type": fields["type"], "name": fields["name"]}


def _elements(xml: bytes, filename: str) -> dict[str, dict[str, str | None]]:
    tree = parse_safely(xml, filename)
    found: dict[str, dict[str, str | None]] = {}
    for process in processes(tree):
        for element in flow_elements(process):
            found.setdefault(element.get("id"), _fields(element))
    return found


def _fields(element: etree._Element) -> dict[str, str | None]:
    properties = {p.get("name"): p.get("value") for p in element.xpath(
        "./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)}
    groups = element.get(f"{{{CAMUNDA_NS}}}candidateGroups")
    return {
        "type": local_name(element),
        "name": element.get("name"),
        "formKey": element.get(f"{{{CAMUNDA_NS}}}formKey"),
        "candidateGroups": ",".join(split_list(groups)) if groups is not None else None,
        "dueWorkdays": properties.get("dueWorkdays"),
        "caseStatus": properties.get("caseStatus"),
        "condition": _text(element, "./bpmn:conditionExpression"),
        "timer": _timer(element),
        "script": _text(element, "./bpmn:script"),
        "source": element.get("sourceRef"),
        "target": element.get("targetRef"),
        "attachedTo": element.get("attachedToRef"),
        "default": element.get("default"),
    }


def _text(element: etree._Element, xpath: str) -> str | None:
    nodes = element.xpath(xpath, namespaces=NS)
    return (nodes[0].text or "").strip() if nodes else None


def _timer(element: etree._Element) -> str | None:
    for kind in _TIMER_KINDS:
        text = _text(element, f"./bpmn:timerEventDefinition/bpmn:{kind}")
        if text is not None:
            return f"{kind}: {text}"
    return None
