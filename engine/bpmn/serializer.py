"""Workflow state ⇄ JSON, without copying the process spec into every instance (serialize).

SpiffWorkflow's serializer writes the whole spec with each workflow. Specs belong to the
process definition and are parsed once per definition (see `engine.cases.store`), so instance
state holds only the task tree and data; on load the shared spec objects are put back.
States written by an older serializer version are migrated on load.
"""

from __future__ import annotations

import json
import zlib
from copy import deepcopy
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default import workflow as workflow_converters
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import MultiInstanceTaskConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask as CamundaParallelMI,
)
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    SequentialMultiInstanceTask as CamundaSequentialMI,
)

from engine.bpmn.timers import CLOCKED_TIMERS

ARCHIVE_LEVEL = 9  # once per case, at its end: the smallest is worth the millisecond


@lru_cache(maxsize=1 << 16)
def task_uuid(text: str) -> UUID:
    """A task id from its text, made once: a state names each task three or four times (its id, its
    parent's and its children's lists, the task map), and parsing UUIDs was a third of a load."""
    return UUID(text)


# SpiffWorkflow's task and workflow converters parse ids with the module's `UUID`; UUIDs are immutable,
# so handing them the memoised constructor changes nothing but the time.
workflow_converters.UUID = task_uuid  # type: ignore[attr-defined,assignment]


class SharedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow leaving its specs out; restores it onto given specs."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: BpmnProcessSpec | None = None,
                  subprocess_specs: dict[str, BpmnProcessSpec] | None = None) -> BpmnWorkflow:
        if spec is None:
            return super().from_dict(dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], task_uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(task_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _config() -> dict[type, type]:
    config = deepcopy(CAMUNDA_CONFIG)
    config.pop(CamundaParallelMI, None)
    config.pop(CamundaSequentialMI, None)
    config[ParallelMultiInstanceTask] = MultiInstanceTaskConverter
    config[SequentialMultiInstanceTask] = MultiInstanceTaskConverter
    for clocked in CLOCKED_TIMERS.values():
        config[clocked] = TimerConditionalEventDefinitionConverter
    config[BpmnWorkflow] = SharedSpecWorkflowConverter
    return config


class StateSerializer:
    """Dumps and loads workflow state (task tree + data) as JSON text."""

    def __init__(self) -> None:
        self._serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config()))
        self.version: str = self._serializer.VERSION

    @property
    def registry(self) -> Any:
        """The converter registry (SpiffWorkflow's spec diff compares task specs through it)."""
        return self._serializer.registry

    def dump(self, workflow: BpmnWorkflow) -> str:
        """Return the workflow's state as JSON (no spec)."""
        registry = self._serializer.registry
        registry._encoder_mode = True
        try:
            return json.dumps(registry.convert(workflow), cls=self._serializer._encoder_cls,
                              ensure_ascii=False, separators=(",", ":"))
        finally:
            registry._encoder_mode = False

    @staticmethod
    def archive(state: str) -> bytes:
        """The state of a case that ended, compressed for keeping (zlib)."""
        return zlib.compress(state.encode(), ARCHIVE_LEVEL)

    @staticmethod
    def unarchive(archived: bytes) -> str:
        """The state `archive` compressed."""
        return zlib.decompress(archived).decode()

    def load(self, state: str, version: str, spec: BpmnProcessSpec,
             subprocess_specs: dict[str, BpmnProcessSpec]) -> BpmnWorkflow:
        """Rebuild a workflow from `state` onto the shared specs, migrating old versions."""
        dct = json.loads(state, cls=self._serializer.json_decoder_cls)
        if version != self.version:
            dct = self._migrate(dct, version, spec, subprocess_specs)
        return self._serializer.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)

    def _migrate(self, dct: dict[str, Any], version: str, spec: BpmnProcessSpec,
                 subprocess_specs: dict[str, BpmnProcessSpec]) -> dict[str, Any]:
        # SpiffWorkflow's migrations expect the full document, spec included.
        registry = self._serializer.registry
        dct["spec"] = registry.convert(spec)
        dct["subprocess_specs"] = {name: registry.convert(s) for name, s in subprocess_specs.items()}
        if version in MIGRATIONS:
            MIGRATIONS[version](dct)
        return dct
