"""Versioned process definitions: deploy BPMN into the database and cache parsed specs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.fingerprint import Fingerprints, fingerprints
from engine.bpmn.loader import (
    BpmnRejected,
    Problem,
    ProcessModel,
    as_utf8,
    capped,
    inspect_process,
    load_process,
    parse_safely,
)
from engine.bpmn.parser import build_specs
from engine.bpmn.reachability import reachability_problems
from engine.errors import NotDeployed
from engine.models import AuditLog, ProcessDefinition
from engine.settings import Settings


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


def checksum(xml: bytes) -> str:
    """Return the SHA-256 hex digest identifying a BPMN document's exact bytes."""
    return hashlib.sha256(xml).hexdigest()


@dataclass(frozen=True)
class DeployResult:
    """What `deploy` did: the key and version now current, and whether it is new."""

    key: str
    version: int
    changed: bool
    definition_id: int
    layout_only: bool = False


def validate(xml: bytes, filename: str, settings: Settings) -> ProcessModel:
    """Run every deploy-time check on `xml`; raise `BpmnRejected` with the problems."""
    try:
        return load_process(xml, filename, settings.forms.known_keys(), known_groups(settings))
    except BpmnRejected:
        raise
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's parser can trip anywhere on a malformed draft
        raise BpmnRejected([Problem(filename, None, None, f"流程引擎无法解析：{err}")]) from err


# Run on a changed draft before it is stored: raises to refuse it, or returns details for the audit log.
DeployGate = Callable[[ProcessModel], dict[str, Any]]


def deploy(session: Session, settings: Settings, xml: bytes, filename: str, deployed_by: str, at: datetime,
           comment: str | None = None, gate: DeployGate | None = None) -> DeployResult:
    """Store `xml` as the next version of its process unless it equals the latest one.

    Deploy refuses what the modeler's 校验 refuses: the load checks plus reachability (every
    element reachable from a start event and able to reach an end event). A changed draft then
    passes `gate` (the design studio runs the process's samples there); what the gate returns is
    added to the audit entry, and an entry with `despite_samples` is a deploy an administrator forced.
    """
    model = validate(xml, filename, settings)
    problems = reachability_problems(model.tree, filename)
    if problems:
        raise BpmnRejected(capped(problems, filename))
    xml = as_utf8(xml, model.tree)
    digest = checksum(xml)
    latest = latest_definition(session, model.key, required=False)
    layout_only = False
    if latest is not None:
        if latest.checksum == digest:
            return DeployResult(model.key, latest.version, False, latest.id)
        before, now = _fingerprints_of(latest), fingerprints(model.tree)
        if before.semantic == now.semantic:
            if before.layout == now.layout:  # re-exported, re-indented: the same model and diagram
                return DeployResult(model.key, latest.version, False, latest.id)
            layout_only = True
    # A layout-only version runs exactly as the one before: its samples need not run again.
    gated = gate(model) if gate is not None and not layout_only else {}
    definition = ProcessDefinition(
        key=model.key, version=(latest.version + 1) if latest else 1, name=model.name,
        xml=xml.decode("utf-8"), checksum=digest, deployed_by=deployed_by, deployed_at=at, comment=comment,
        layout_only=layout_only)
    session.add(definition)
    # Every deployment, from the modeler, an upload or the CLI, is in the security audit log.
    action = "deploy_despite_samples" if gated.get("despite_samples") else "deploy_definition"
    session.add(AuditLog(actor=deployed_by, action=action, target=f"{model.key}@v{definition.version}",
                         details={"comment": comment, "checksum": digest, "filename": filename,
                                  "layout_only": layout_only, **gated}, at=at))
    session.flush()
    return DeployResult(model.key, definition.version, True, definition.id, layout_only)


def _fingerprints_of(definition: ProcessDefinition) -> Fingerprints:
    return fingerprints(parse_safely(definition.xml.encode("utf-8"), f"{definition.key}@v{definition.version}.bpmn"))


def latest_definition(session: Session, key: str, required: bool = True) -> ProcessDefinition | None:
    """Return the newest deployed version of `key` (NotDeployed if none and required)."""
    newest = select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key).scalar_subquery()
    definition = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == newest)
    ).first()
    if definition is None and required:
        raise NotDeployed(f"流程 {key} 尚未部署，请先执行 relief deploy")
    return definition


def definitions_of(session: Session, key: str) -> list[ProcessDefinition]:
    """Every deployed version of `key`, newest first ([] when never deployed; the XML stays unloaded)."""
    return list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
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
        model, _problems = inspect_process(tree, filename, set(), groups)
        spec, subprocess_specs = build_specs(tree, definition.key, filename)
        return LoadedDefinition(definition.id, definition.key, definition.version, model, spec,
                                subprocess_specs)
