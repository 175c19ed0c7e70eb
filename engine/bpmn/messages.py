"""Messages a case waits for (BPMN receive tasks and message catch events), delivered by name.

The engine delivers one when the outside world answers — the applicant's 补正 upload is the message
`supplement_received` (R-6.2.2) — and the designer's sample runs deliver it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

SUPPLEMENT_RECEIVED = "supplement_received"  # the applicant's supplement arrived (补正材料)


def message_of(task: Task) -> str | None:
    """The name of the message `task` waits for, if its element catches one."""
    definition = getattr(task.task_spec, "event_definition", None)
    return definition.name if isinstance(definition, MessageEventDefinition) else None


def waiting_for(workflow: BpmnWorkflow, name: str) -> list[Task]:
    """The tasks of the workflow (subprocesses included) waiting now for the message `name` (a plain scan
    of the task maps: every step asks, and SpiffWorkflow's tree iterator costs more than the step)."""
    trees = [workflow, *workflow.subprocesses.values()]
    return [t for tree in trees for t in tree.tasks.values() if t.state == TaskState.WAITING and message_of(t) == name]


def deliver(workflow: BpmnWorkflow, name: str, payload: Mapping[str, Any]) -> bool:
    """Deliver the message `name` with `payload` (its keys become task data) if the workflow waits for
    it; True when it did. The caller runs the engine steps that follow."""
    if not waiting_for(workflow, name):
        return False
    workflow.catch(BpmnEvent(MessageEventDefinition(name), dict(payload)))
    return True
