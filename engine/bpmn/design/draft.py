"""A draft BPMN parsed for trial runs (试运行): specs built as the engine builds them, plus element facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from engine.bpmn.decisions import with_shipped
from engine.bpmn.elements import executable_processes, flow_elements, kind_name, label
from engine.bpmn.loader import (
    BPMN_NS,
    NO_DEPENDENCIES,
    BpmnRejected,
    Dependencies,
    Problem,
    ProcessModel,
    inspect_process,
    parse_draft,
)
from engine.bpmn.parser import build_specs


@dataclass(frozen=True)
class ElementInfo:
    """What a trial run needs to know of one flow node or sequence flow of the draft."""

    label: str
    shown: str  # the name, else the kind of element (开始, 排他网关): a trial's path never shows an id
    source: str | None = None
    target: str | None = None
    condition: str | None = None


@dataclass(frozen=True)
class Draft:
    """A draft parsed for trial runs: its specs, metadata and the elements of its XML."""

    model: ProcessModel
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    elements: dict[str, ElementInfo]

    def label(self, element_id: str | None) -> str:
        """Return the element's name (or id) for messages; flags ids the draft does not have."""
        if element_id is None:
            return "（未知环节）"
        if element_id not in self.elements:
            return f"{element_id}（流程中没有该元素）"
        return self.elements[element_id].label

    def shown(self, element_id: str) -> str:
        """What a person reads for the element in a trial's path (its name, else its kind)."""
        info = self.elements.get(element_id)
        return info.shown if info is not None else element_id

    def conditional_flows(self, gateway_id: str) -> list[tuple[str, str]]:
        """Return (flow id, condition) of the gateway's outgoing flows that have a condition."""
        return [(i, e.condition) for i, e in self.elements.items() if e.source == gateway_id and e.condition]


def load_draft(xml: bytes, filename: str = "draft.bpmn", groups: Mapping[str, str] | None = None,
               key: str | None = None, dependencies: Dependencies = NO_DEPENDENCIES) -> Draft:
    """Parse `xml` (its process `key`, else the first) into specs the way the engine does; raise
    BpmnRejected if it cannot run."""
    tree = parse_draft(xml, filename)
    # Only the metadata is wanted here; check_draft reports lint problems.
    model, _problems = inspect_process(tree, filename, set(), groups or {}, key)
    try:
        spec, subprocess_specs = build_specs(tree, model.key, filename, with_shipped(tree, dependencies).trees)
    except ValidationException as err:
        raise BpmnRejected([Problem(filename, getattr(err, "line_number", None) or None,
                                    getattr(err, "id", None), f"流程引擎无法解析：{err}")]) from err
    elements = {e.get("id"): _info(e) for process in executable_processes(tree) for e in flow_elements(process)}
    return Draft(model, spec, subprocess_specs, elements)


def _info(element: etree._Element) -> ElementInfo:
    condition = element.find(f"{{{BPMN_NS}}}conditionExpression")
    return ElementInfo(label(element), kind_name(element), element.get("sourceRef"), element.get("targetRef"),
                       (condition.text or "").strip() if condition is not None else None)
