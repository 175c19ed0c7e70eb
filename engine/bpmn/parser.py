"""Turn validated BPMN XML into SpiffWorkflow specs (parse → spec).

The Camunda flavour of SpiffWorkflow's parser is used for `camunda:formKey` and
`camunda:properties`, with two changes: multi-instance activities use the standard BPMN
data references (`loopDataInputRef`/`inputDataItem`/`loopDataOutputRef`/`outputDataItem`),
so each department's result is collected with the department it belongs to, and timers
run on the engine clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    CallActivity,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ManualTask,
    NoneTask,
    ScriptTask,
    StartEvent,
    TransactionSubprocess,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaIntermediateThrowEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import (
    BusinessRuleTaskParser,
    CallActivityParser,
    CamundaTaskParser,
    ScriptTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask

from engine.bpmn.timers import clocked

DMN_MARK = "/DMN/"  # in every DMN version's namespace


def is_dmn(tree: etree._ElementTree) -> bool:
    """True for a DMN document (any DMN version's namespace)."""
    return DMN_MARK in (etree.QName(tree.getroot()).namespace or "")


class _StandardMultiInstance:
    _add_multiinstance_task = TaskParser._add_multiinstance_task


class _ClockedTimers:
    def parse_timer_event(self, event: Any) -> Any:
        return clocked(super().parse_timer_event(event))  # type: ignore[misc]


def _task_parser(base: type) -> type:
    return type(base.__name__, (_StandardMultiInstance, base), {})


def _event_parser(base: type) -> type:
    return type(base.__name__, (_ClockedTimers, base), {})


class ReliefParser(CamundaParser):
    """CamundaParser with standard multi-instance data refs and engine-clock timers."""

    OVERRIDE_PARSER_CLASSES = {
        full_tag("userTask"): (_task_parser(UserTaskParser), UserTask),
        full_tag("startEvent"): (_event_parser(CamundaStartEventParser), StartEvent),
        full_tag("endEvent"): (_event_parser(CamundaEndEventParser), EndEvent),
        full_tag("intermediateCatchEvent"): (_event_parser(CamundaIntermediateCatchEventParser),
                                             IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (_event_parser(CamundaIntermediateThrowEventParser),
                                             IntermediateThrowEvent),
        full_tag("boundaryEvent"): (_event_parser(CamundaBoundaryEventParser), BoundaryEvent),
        full_tag("businessRuleTask"): (_task_parser(BusinessRuleTaskParser), BusinessRuleTask),
        full_tag("task"): (_task_parser(CamundaTaskParser), NoneTask),
        full_tag("manualTask"): (_task_parser(CamundaTaskParser), ManualTask),
        full_tag("scriptTask"): (_task_parser(ScriptTaskParser), ScriptTask),
        full_tag("subProcess"): (_task_parser(SubWorkflowParser), CallActivity),
        full_tag("callActivity"): (_task_parser(CallActivityParser), CallActivity),
        full_tag("transaction"): (_task_parser(SubWorkflowParser), TransactionSubprocess),
    }


ProcessSpecs = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


def _connect_loop_children(spec: BpmnProcessSpec) -> None:
    # A loop task merges each child's result through a signal on the child's *spec*, which the
    # run connects lazily. A spec parsed in another process than the one that started the loop
    # would never merge; SpiffWorkflow's spec deserializer connects them up front, so do the same.
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def build_specs(tree: etree._ElementTree, process_key: str, filename: str,
                extra: Sequence[etree._ElementTree] = ()) -> ProcessSpecs:
    """Parse an already-validated BPMN document into the top spec and its subprocess specs; `extra` are the
    documents its call activities and business rule tasks reach (other BPMN files, DMN decision tables)."""
    parser = ReliefParser()
    parser.add_bpmn_xml(tree, filename=filename)
    for number, other in enumerate(extra):
        if is_dmn(other):
            parser.add_dmn_xml(other.getroot(), filename=f"decisions-{number}.dmn")
        else:
            parser.add_bpmn_xml(other, filename=f"called-{number}.bpmn")
    spec = parser.get_spec(process_key)
    subprocess_specs = parser.get_subprocess_specs(process_key)
    for each in (spec, *subprocess_specs.values()):
        _connect_loop_children(each)
    return spec, subprocess_specs
