"""Deploy a set of files together (部署): BPMN processes, collaborations and DMN decision tables.

`relief deploy a.bpmn b.bpmn rules.dmn`, a multi-file upload or a zip all come here. Every file is
checked, each against the others and against what is already deployed, so a call activity to a
process in another file or a business rule task naming a decision of the set resolves, and a missing
callee is named. Nothing is stored unless every file passes. Each executable process of a file (a
collaboration holds several) and each decision becomes its own versioned definition; what a process
version calls is pinned (`ProcessDefinition.depends_on`: key → definition id), so a running case keeps
the callee it started with.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit.chain import audit
from engine.bpmn.decisions import decision_of, decision_problems, shipped_decisions
from engine.bpmn.fingerprint import fingerprints
from engine.bpmn.loader import (
    BPMN_NS,
    BpmnRejected,
    Dependencies,
    Problem,
    ProcessModel,
    as_utf8,
    capped,
    is_dmn,
    load_processes,
    parse_draft,
    parse_safely,
    references,
)
from engine.bpmn.reachability import reachability_problems
from engine.models import ProcessDefinition
from engine.settings import Settings

BPMN, DMN = "bpmn", "dmn"
MAX_FILES = 20


@dataclass(frozen=True)
class DeployFile:
    """One file of a deploy set."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class DeployResult:
    """What deploy did for one process or decision: the key and version now current, whether it is new."""

    key: str
    version: int
    changed: bool
    definition_id: int
    layout_only: bool = False
    kind: str = BPMN


# Run on a changed process before it is stored (its model, file, name and what it may call): raises to
# refuse it, or returns details for the audit log.
DeployGate = Callable[[ProcessModel, bytes, str, Dependencies], dict[str, Any]]


MAX_ZIP_BYTES = 10 * 1024 * 1024
_SUFFIXES = (".bpmn", ".dmn", ".xml")


def files_of(filename: str, data: bytes) -> list[DeployFile]:
    """The files of an upload: the file itself, or the .bpmn/.dmn members of a zip (read with limits:
    no more than MAX_FILES members, each under the 2 MB draft limit, MAX_ZIP_BYTES unpacked in all)."""
    if not filename.lower().endswith(".zip"):
        return [DeployFile(filename, data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(_SUFFIXES)]
    except zipfile.BadZipFile as err:
        raise BpmnRejected([Problem(filename, None, None, "不是有效的 zip 文件")]) from err
    if not members:
        raise BpmnRejected([Problem(filename, None, None, "zip 中没有 .bpmn 或 .dmn 文件")])
    if len(members) > MAX_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise BpmnRejected([Problem(filename, None, None, f"zip 中的文件过多或过大（最多 {MAX_FILES} 个、共 10 MB）")])
    return [DeployFile(m.filename.rsplit("/", 1)[-1], archive.read(m)) for m in members]


@dataclass
class _Parsed:
    file: DeployFile
    tree: etree._ElementTree
    kind: str
    keys: list[str]
    dependencies: Dependencies | None = None  # `DeploySet.dependencies`, once worked out


def latest(session: Session, key: str, kind: str = BPMN) -> ProcessDefinition | None:
    """The newest deployed version of `key` of `kind`, or None."""
    newest = (select(func.max(ProcessDefinition.version))
              .where(ProcessDefinition.key == key, ProcessDefinition.kind == kind).scalar_subquery())
    return session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.kind == kind, ProcessDefinition.version == newest)).first()


def dependency_trees(session: Session, depends_on: dict[str, Any],
                     seen: set[int] | None = None) -> list[etree._ElementTree]:
    """The parsed documents a definition's pinned dependencies name, theirs included (each once)."""
    seen = seen if seen is not None else set()
    trees = []
    for definition_id in depends_on.values():
        if definition_id in seen:
            continue
        seen.add(definition_id)
        row = session.get_one(ProcessDefinition, definition_id)
        trees.append(parse_safely(row.xml.encode("utf-8"), f"{row.key}@v{row.version}.{row.kind}"))
        trees += dependency_trees(session, dict(row.depends_on or {}), seen)
    return trees


class DeploySet:
    """One deployment of several files, checked together and stored in one transaction."""

    def __init__(self, session: Session, settings: Settings, files: Sequence[DeployFile], groups: dict[str, str]):
        self.session, self.settings, self.groups = session, settings, groups
        if not files:
            raise BpmnRejected([Problem("", None, None, "没有要部署的文件")])
        if len(files) > MAX_FILES:
            raise BpmnRejected([Problem("", None, None, f"一次最多部署 {MAX_FILES} 个文件")])
        self.parsed = [self._parse(f) for f in files]
        self.parsed += self._shipped_decisions()
        owners: dict[tuple[str, str], str] = {}
        problems = []
        for parsed in self.parsed:
            for key in parsed.keys:
                other = owners.setdefault((parsed.kind, key), parsed.file.filename)
                if other != parsed.file.filename:
                    problems.append(Problem(parsed.file.filename, None, key, f"标识 {key} 也在 {other} 中定义"))
        if problems:
            raise BpmnRejected(problems)

    def _shipped_decisions(self) -> list[_Parsed]:
        """The repository's decision tables the set uses that are neither in it nor deployed (first deploy)."""
        in_set = {k for p in self.parsed if p.kind == DMN for k in p.keys}
        used = {d for p in self.parsed if p.kind == BPMN for d in references(p.tree)[1]} - in_set
        shipped = shipped_decisions()
        return [self._parse(DeployFile(shipped[d].name, shipped[d].read_bytes())) for d in sorted(used)
                if d in shipped and latest(self.session, d, DMN) is None]

    @staticmethod
    def _parse(file: DeployFile) -> _Parsed:
        tree = parse_draft(file.data, file.filename)
        if is_dmn(tree):
            decision = decision_of(tree)
            return _Parsed(file, tree, DMN, [decision.id] if decision else [])
        keys = [p.get("id", "") for p in tree.getroot().iter(f"{{{BPMN_NS}}}process")
                if p.get("isExecutable") == "true"]
        return _Parsed(file, tree, BPMN, keys)

    def check(self) -> dict[str, list[ProcessModel]]:
        """Every file's problems at once (BpmnRejected), else the process models of each BPMN file."""
        problems: list[Problem] = []
        models: dict[str, list[ProcessModel]] = {}
        for parsed in self.parsed:
            if parsed.kind == DMN:
                problems += decision_problems(parsed.tree, parsed.file.filename)
                continue
            try:
                models[parsed.file.filename] = load_processes(
                    parsed.tree, parsed.file.filename, self.settings.forms.known_keys(), self.groups,
                    self.dependencies(parsed))
            except BpmnRejected as err:
                problems += err.problems
                continue
            problems += reachability_problems(parsed.tree, parsed.file.filename)
        if problems:
            raise BpmnRejected(capped(problems, self.parsed[0].file.filename))
        return models

    def dependencies(self, parsed: _Parsed) -> Dependencies:
        """What `parsed` may call: the other files of the set, and deployed versions of what they do not hold
        (worked out once per file: the check and each sample gate ask again)."""
        if parsed.dependencies is None:
            parsed.dependencies = self._find_dependencies(parsed)
        return parsed.dependencies

    def _find_dependencies(self, parsed: _Parsed) -> Dependencies:
        called, used = references(parsed.tree)
        in_set = {(p.kind, k): p for p in self.parsed for k in p.keys}
        trees = [p.tree for p in self.parsed if p is not parsed]
        found_processes = {k for kind, k in in_set if kind == BPMN}
        found_decisions = {k for kind, k in in_set if kind == DMN}
        for kind, keys in ((BPMN, called), (DMN, used)):
            for key in keys - {k for (each, k) in in_set if each == kind}:
                row = latest(self.session, key, kind)
                if row is not None:
                    trees.append(parse_safely(row.xml.encode("utf-8"), f"{key}@v{row.version}.{kind}"))
                    trees += dependency_trees(self.session, dict(row.depends_on or {}))
                    (found_processes if kind == BPMN else found_decisions).add(key)
        return Dependencies(tuple(trees), frozenset(found_processes), frozenset(found_decisions))

    def store(self, models: dict[str, list[ProcessModel]], deployed_by: str, at: datetime, comment: str | None,
              gate: DeployGate | None) -> list[DeployResult]:
        """Store what changed: decisions first, then processes with their dependencies pinned."""
        results: dict[tuple[str, str], DeployResult] = {}
        for parsed in self._callees_first():
            for key in parsed.keys:
                model = next((m for m in models.get(parsed.file.filename, []) if m.key == key), None)
                results[(parsed.kind, key)] = self._store_one(parsed, key, model, results, deployed_by, at, comment,
                                                              gate)
        # In the order of the files given (the repository's decision tables a first deploy added come last).
        given = [results[(p.kind, k)] for p in self.parsed for k in p.keys]
        return given + self._follow_new_decisions(given, deployed_by, at, gate)

    def _follow_new_decisions(self, done: list[DeployResult], deployed_by: str, at: datetime,
                              gate: DeployGate | None) -> list[DeployResult]:
        """A new version of a decision table takes effect for the processes using it: each one's newest
        version not in this set is deployed again with the new decision pinned (its samples run again)."""
        changed = {f"{DMN}:{r.key}": r for r in done if r.kind == DMN and r.changed}
        in_set = {k for p in self.parsed if p.kind == BPMN for k in p.keys}
        followed: list[DeployResult] = []
        if not changed:
            return followed
        users = set(self.session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.kind == BPMN)
                                         .distinct())) - in_set
        for pin, decision in changed.items():
            for key in sorted(users):
                row = latest(self.session, key, BPMN)
                if row is None or pin not in dict(row.depends_on or {}):
                    continue
                parsed = self._parse(DeployFile(f"{key}.bpmn", row.xml.encode("utf-8")))
                model = next(m for m in load_processes(parsed.tree, parsed.file.filename,
                                                       self.settings.forms.known_keys(), self.groups,
                                                       self.dependencies(parsed)) if m.key == key)
                note = f"决策表 {decision.key} 更新为 v{decision.version}"
                followed.append(self._store_one(parsed, key, model, {(DMN, decision.key): decision}, deployed_by, at,
                                                note, gate))
        return followed

    def _callees_first(self) -> list[_Parsed]:
        """Decision tables, then BPMN files each after the files of the set it calls (a cycle keeps file order)."""
        pending = [p for p in self.parsed if p.kind == BPMN]
        ordered = [p for p in self.parsed if p.kind == DMN]
        while pending:
            def waits(p: _Parsed) -> bool:
                return bool(references(p.tree)[0] & {k for q in pending if q is not p for k in q.keys})

            ready = next((p for p in pending if not waits(p)), pending[0])
            ordered.append(ready)
            pending.remove(ready)
        return ordered

    def _pins(self, parsed: _Parsed, done: dict[tuple[str, str], DeployResult]) -> dict[str, int]:
        called, used = references(parsed.tree)
        own = set(parsed.keys)
        pins: dict[str, int] = {}
        for kind, keys in ((BPMN, called - own), (DMN, used)):
            for key in sorted(keys):
                if (kind, key) in done:
                    pins[f"{kind}:{key}"] = done[(kind, key)].definition_id
                else:
                    row = latest(self.session, key, kind)
                    if row is not None:
                        pins[f"{kind}:{key}"] = row.id
        return pins

    def _store_one(self, parsed: _Parsed, key: str, model: ProcessModel | None,
                   done: dict[tuple[str, str], DeployResult], deployed_by: str, at: datetime, comment: str | None,
                   gate: DeployGate | None) -> DeployResult:
        xml = as_utf8(parsed.file.data, parsed.tree)
        digest = checksum(xml)
        pins = self._pins(parsed, done) if parsed.kind == BPMN else {}
        before = latest(self.session, key, parsed.kind)
        layout_only = False
        if before is not None and dict(before.depends_on or {}) == pins:
            if before.checksum == digest:
                return DeployResult(key, before.version, False, before.id, kind=parsed.kind)
            old = fingerprints(parse_safely(before.xml.encode("utf-8"), f"{key}@v{before.version}"))
            new = fingerprints(parsed.tree)
            if old.semantic == new.semantic:
                if old.layout == new.layout:  # re-exported, re-indented: the same model and diagram
                    return DeployResult(key, before.version, False, before.id, kind=parsed.kind)
                layout_only = True
        # A layout-only version runs exactly as the one before: its samples need not run again.
        gated = (gate(model, xml, parsed.file.filename, self.dependencies(parsed))
                 if gate is not None and model is not None and not layout_only else {})
        decision = decision_of(parsed.tree) if model is None else None
        name = model.name if model is not None else decision.name if decision is not None else key
        definition = ProcessDefinition(
            key=key, version=(before.version + 1) if before else 1, name=name, xml=xml.decode("utf-8"),
            checksum=digest, deployed_by=deployed_by, deployed_at=at, comment=comment, layout_only=layout_only,
            kind=parsed.kind, depends_on=pins)
        self.session.add(definition)
        # Every deployment, from the modeler, an upload or the CLI, is in the security audit log.
        action = "deploy_despite_samples" if gated.get("despite_samples") else "deploy_definition"
        audit(self.session, deployed_by, action, at, f"{key}@v{definition.version}",
              **{"comment": comment, "checksum": digest, "filename": parsed.file.filename, "kind": parsed.kind,
                 "layout_only": layout_only, "depends_on": pins, **gated})
        self.session.flush()
        return DeployResult(key, definition.version, True, definition.id, layout_only, parsed.kind)


def checksum(xml: bytes) -> str:
    """Return the SHA-256 hex digest identifying a document's exact bytes."""
    return hashlib.sha256(xml).hexdigest()
