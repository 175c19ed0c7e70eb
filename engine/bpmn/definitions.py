"""Versioned process definitions: deploy BPMN into the database and cache parsed specs."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine.bpmn.decisions import with_shipped
from engine.bpmn.deployment import (
    BPMN,
    DeployFile,
    DeployGate,
    DeployResult,
    DeploySet,
    dependency_trees,
    latest,
)
from engine.bpmn.loader import (
    NO_DEPENDENCIES,
    BpmnRejected,
    Dependencies,
    Problem,
    ProcessModel,
    inspect_process,
    inspect_processes,
    is_dmn,
    load_processes,
    parse_draft,
    parse_safely,
)
from engine.bpmn.parser import build_specs
from engine.errors import NotDeployed
from engine.models import ProcessDefinition
from engine.settings import Settings

__all__ = ["DeployFile", "DeployGate", "DeployResult", "deploy_set", "validate", "validate_all"]


def known_groups(settings: Settings) -> dict[str, str]:
    """The candidate groups a BPMN may name — role and department codes — each also by its Chinese name
    (a lane called 民政局 is the group `minzheng`): alias → code."""
    found: dict[str, str] = {}
    for records in (settings.reference.roles(), settings.reference.departments()):
        for code, record in records.items():
            found[code] = code
            if record.get("zh"):
                found.setdefault(str(record["zh"]), code)
    return found


def validate(xml: bytes, filename: str, settings: Settings,
             dependencies: Dependencies = NO_DEPENDENCIES) -> ProcessModel:
    """Run every deploy-time check on one BPMN file; return the model of its (first) executable process,
    or raise `BpmnRejected` with the problems."""
    return validate_all(xml, filename, settings, dependencies)[0]


def validate_all(xml: bytes, filename: str, settings: Settings, dependencies: Dependencies = NO_DEPENDENCIES,
                 tree: etree._ElementTree | None = None) -> list[ProcessModel]:
    """Every deploy-time check on one BPMN file (`tree`: the file already parsed, so it is parsed once);
    a model per executable process (a collaboration has several)."""
    try:
        tree = tree if tree is not None else parse_draft(xml, filename)
        return load_processes(tree, filename, settings.forms.known_keys(), known_groups(settings),
                              with_shipped(tree, dependencies))
    except BpmnRejected:
        raise
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's parser can trip anywhere on a malformed draft
        raise BpmnRejected([Problem(filename, None, None, f"流程引擎无法解析：{err}")]) from err


def deploy_set(session: Session, settings: Settings, files: Sequence[DeployFile], deployed_by: str, at: datetime,
               comment: str | None = None, gate: DeployGate | None = None) -> list[DeployResult]:
    """Check a set of BPMN and DMN files together and store what changed (see `engine.bpmn.deployment`).

    Deploy refuses what the modeler's 校验 refuses: the load checks plus reachability (every element
    reachable from a start event and able to reach an end event). A changed process then passes
    `gate` (the design studio runs its samples there); what the gate returns is added to the audit
    entry, and an entry with `despite_samples` is a deploy an administrator forced.
    """
    deploying = DeploySet(session, settings, files, known_groups(settings))
    try:
        models = deploying.check()
    except BpmnRejected:
        raise
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's parser can trip anywhere on a malformed draft
        raise BpmnRejected([Problem(files[0].filename, None, None, f"流程引擎无法解析：{err}")]) from err
    return deploying.store(models, deployed_by, at, comment, gate)


def latest_definition(session: Session, key: str, required: bool = True) -> ProcessDefinition | None:
    """Return the newest deployed version of process `key` (NotDeployed if none and required)."""
    definition = latest(session, key, BPMN)
    if definition is None and required:
        raise NotDeployed(f"流程 {key} 尚未部署，请先执行 relief deploy")
    return definition


def definitions_of(session: Session, key: str) -> list[ProcessDefinition]:
    """Every deployed version of `key`, newest first ([] when never deployed; the XML stays unloaded)."""
    return list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                                ProcessDefinition.kind == BPMN)
                                .order_by(ProcessDefinition.version.desc())))


@dataclass(frozen=True)
class LoadedDefinition:
    """A definition's parsed specs and metadata, shared by all its instances."""

    id: int
    key: str
    version: int
    model: ProcessModel
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]


class SpecCache:
    """Parses each definition's XML once per process; definitions are immutable.

    `groups` (alias → code, `known_groups`) turns lane names into candidate groups as deploy did."""

    def __init__(self, groups: Mapping[str, str] | None = None) -> None:
        self._loaded: dict[int, LoadedDefinition] = {}
        self._lock = threading.Lock()
        self.groups = dict(groups or {})

    def get(self, definition: ProcessDefinition) -> LoadedDefinition:
        """Return the parsed specs of `definition`, parsing on first use."""
        loaded = self._loaded.get(definition.id)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(definition.id)
            if loaded is None:
                loaded = self._parse(definition, self.groups)
                self._loaded[definition.id] = loaded
        return loaded

    def get_by_id(self, session: Session, definition_id: int) -> LoadedDefinition:
        """Return the parsed specs of a definition id, reading its XML only on a cache miss."""
        loaded = self._loaded.get(definition_id)
        return loaded if loaded is not None else self.get(session.get_one(ProcessDefinition, definition_id))

    @staticmethod
    def _parse(definition: ProcessDefinition, groups: Mapping[str, str]) -> LoadedDefinition:
        filename = f"{definition.key}@v{definition.version}.bpmn"
        tree = parse_safely(definition.xml.encode("utf-8"), filename)
        # Deployed definitions were linted at deploy time; here only the metadata is wanted.
        model, _problems = inspect_process(tree, filename, set(), groups, definition.key)
        session = object_session(definition)
        pinned = dict(definition.depends_on or {})
        extra = dependency_trees(session, pinned) if pinned and session is not None else []
        for other in extra:
            if not is_dmn(other):
                for called, _problems in inspect_processes(other, filename, set(), groups):
                    model.called_tasks[called.key] = called.user_tasks
        spec, subprocess_specs = build_specs(tree, definition.key, filename, extra)
        return LoadedDefinition(definition.id, definition.key, definition.version, model, spec,
                                subprocess_specs)
