"""What the designer tools need to know about BPMN elements: flow-node kinds, scopes, labels."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn.loader import BPMN_NS

FLOW_NODE_TAGS = frozenset({
    "task", "userTask", "serviceTask", "scriptTask", "manualTask", "businessRuleTask", "sendTask",
    "receiveTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})
SCOPE_TAGS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
# What an unnamed element is called where people read it (a trial run's path), instead of its id.
KIND_NAMES = {
    "startEvent": "开始", "endEvent": "结束", "exclusiveGateway": "排他网关", "parallelGateway": "并行网关",
    "inclusiveGateway": "包容网关", "eventBasedGateway": "事件网关", "boundaryEvent": "边界事件",
    "intermediateCatchEvent": "中间事件", "intermediateThrowEvent": "中间事件", "scriptTask": "脚本任务",
    "userTask": "人工任务", "subProcess": "子流程", "callActivity": "调用活动", "sequenceFlow": "顺序流",
}


def local_name(element: etree._Element) -> str:
    """Return the tag of `element` without its namespace ('' for comments and the like)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def is_bpmn(element: etree._Element, *names: str) -> bool:
    """Tell whether `element` is a BPMN-namespace element with one of `names` as local name."""
    return isinstance(element.tag, str) and etree.QName(element).namespace == BPMN_NS and local_name(element) in names


def label(element: etree._Element) -> str:
    """Return what a designer sees on the diagram: the name, or the id of an unnamed element."""
    return element.get("name") or element.get("id") or local_name(element)


def kind_name(element: etree._Element) -> str:
    """The element's name, else what kind of element it is (开始, 排他网关 …), for people to read."""
    return element.get("name") or KIND_NAMES.get(local_name(element), label(element))


def documentation(element: etree._Element) -> str:
    """The text of the element's own bpmn:documentation children, joined by blank lines ('' for none)."""
    texts = ("".join(child.itertext()).strip() for child in element if is_bpmn(child, "documentation"))
    return "\n\n".join(text for text in texts if text)


def processes(tree: etree._ElementTree) -> list[etree._Element]:
    """Return every bpmn:process of the document."""
    return list(tree.getroot().iter(f"{{{BPMN_NS}}}process"))


def executable_processes(tree: etree._ElementTree) -> list[etree._Element]:
    """Return the processes marked isExecutable="true"."""
    return [p for p in processes(tree) if p.get("isExecutable") == "true"]


def scopes(process: etree._Element) -> Iterator[etree._Element]:
    """Yield the process and every (nested) subprocess in it: each has its own sequence flows."""
    for element in process.iter():
        if element is process or is_bpmn(element, *SCOPE_TAGS - {"process"}):
            yield element


def flow_elements(process: etree._Element) -> Iterator[etree._Element]:
    """Yield every flow node and sequence flow with an id, at all nesting levels, in document order."""
    for element in process.iter():
        if element.get("id") and is_bpmn(element, *FLOW_NODE_TAGS, "sequenceFlow"):
            yield element
