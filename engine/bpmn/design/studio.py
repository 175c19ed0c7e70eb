"""The designer's service (流程设计): versions, drafts checked and tried, deployed with a comment.

What the design pages ask of the engine, each call one transaction: the deployed versions of a
process, one version's XML, the problems of a draft (every deploy check plus reachability, and
the process key), the sample runs of a draft, a deployment of a draft, and the diff of two versions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine import clock, db
from engine.bpmn.decisions import decision_of
from engine.bpmn.definitions import (
    DeployFile,
    DeployGate,
    DeployResult,
    definitions_of,
    deploy_set,
    known_groups,
    validate_all,
)
from engine.bpmn.deployment import BPMN, DMN, DeploySet, latest
from engine.bpmn.design.checks import check_draft
from engine.bpmn.design.diff import diff_definitions, summarise_diff
from engine.bpmn.design.samples import SampleFileError, has_samples, load_samples
from engine.bpmn.design.trial import SampleResult, run_samples
from engine.bpmn.elements import executable_processes
from engine.bpmn.loader import BpmnRejected, Dependencies, Problem, ProcessModel, parse_draft, parse_safely, references
from engine.deadlines.workcal import WorkCalendar
from engine.errors import EngineError, InvalidData, NotFound
from engine.models import ProcessDefinition
from engine.settings import Settings

MAX_COMMENT = 500


class SamplesFailed(EngineError):
    """A draft whose sample cases do not run as expected is not deployed; `results` lists the failures."""

    code = "samples_failed"

    def __init__(self, key: str, failed: list[SampleResult], total: int):
        self.results = failed
        names = "、".join(f"「{r.name}」" for r in failed)
        super().__init__(f"流程 {key} 的 {total} 个样例中有 {len(failed)} 个未按预期运行，未部署：{names}")

    def as_dict(self) -> dict[str, object]:
        """The error with every failing sample's result."""
        return {**super().as_dict(), "samples": [r.as_dict() for r in self.results]}


def _checked_text(text: str | None, what: str, field: str) -> str:
    value = (text or "").strip()
    if not value:
        raise InvalidData(f"请填写{what}", {field: [f"请填写{what}"]})
    if len(value) > MAX_COMMENT:
        raise InvalidData(f"{what}过长", {field: [f"{what}不能超过 {MAX_COMMENT} 字"]})
    return value


class DesignStudio:
    """Process versions and drafts for designers; pages and the CLI call it, never the tables."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory, calendar: WorkCalendar):
        self.settings, self.sessions, self.calendar = settings, sessions, calendar

    def catalogue(self) -> list[dict[str, Any]]:
        """Every deployed process and decision table, each once with its newest version (the design index)."""
        newest = (select(ProcessDefinition.kind, ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                  .group_by(ProcessDefinition.kind, ProcessDefinition.key).subquery())
        with db.transaction(self.sessions) as session:
            rows = session.execute(select(ProcessDefinition.kind, ProcessDefinition.key, ProcessDefinition.name,
                                          ProcessDefinition.version, ProcessDefinition.deployed_at,
                                          ProcessDefinition.deployed_by)
                                   .join(newest, (newest.c.kind == ProcessDefinition.kind)
                                         & (newest.c.key == ProcessDefinition.key)
                                         & (newest.c.v == ProcessDefinition.version))
                                   .order_by(ProcessDefinition.kind, ProcessDefinition.key)).all()
        return [dict(r._mapping) for r in rows]

    def decision_page(self, key: str) -> dict[str, Any]:
        """The decision table editor: the newest version of decision `key` with its XML, its versions and the
        processes whose newest version uses it; NotFound when no such decision is deployed."""
        with db.transaction(self.sessions) as session:
            rows = list(session.scalars(select(ProcessDefinition).where(
                ProcessDefinition.key == key, ProcessDefinition.kind == DMN)
                .order_by(ProcessDefinition.version.desc())))
            if not rows:
                raise NotFound(f"决策表 {key} 尚未部署")
            users = []
            for key_of in session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.kind == BPMN)
                                          .distinct()):
                row = latest(session, key_of, BPMN)
                if row is not None and f"{DMN}:{key}" in dict(row.depends_on or {}):
                    users.append(key_of)
            return {"key": key, "name": rows[0].name, "version": rows[0].version, "xml": rows[0].xml,
                    "versions": [{"version": r.version, "deployed_by": r.deployed_by, "deployed_at": r.deployed_at,
                                  "comment": r.comment} for r in rows], "used_by": users}

    def deploy_decision(self, xml: bytes, key: str, deployed_by: str, comment: str,
                        despite_samples: bool = False, reason: str | None = None) -> list[DeployResult]:
        """Deploy an edited decision table of `key` (a comment required); the processes using it follow
        (their samples run again). Refused when the file holds another decision."""
        text = _checked_text(comment, "部署说明", "comment")
        try:
            found = decision_of(parse_draft(xml, f"{key}.dmn"))
        except BpmnRejected:
            found = None
        if found is not None and found.id != key:
            raise BpmnRejected([Problem(f"{key}.dmn", None, found.id, f"决策标识应为 {key}，草稿中为 {found.id}")])
        return self.deploy_files([DeployFile(f"{key}.dmn", xml)], deployed_by, text, despite_samples, reason)

    def decisions_used(self, xml: str) -> list[str]:
        """The decisions a process's business rule tasks use (the modeler links to their editors)."""
        try:
            return sorted(references(parse_safely(xml.encode("utf-8"), "process.bpmn"))[1])
        except BpmnRejected:
            return []

    def versions(self, key: str) -> list[ProcessDefinition]:
        """Every deployed version of `key`, newest first (detached, XML not loaded); NotFound if none."""
        with db.transaction(self.sessions) as session:
            rows = definitions_of(session, key)
            for row in rows:
                session.expunge(row)
        if not rows:
            raise NotFound(f"流程 {key} 尚未部署")
        return rows

    def version_xml(self, key: str, version: int) -> str:
        """The BPMN of one version exactly as deployed; NotFound when there is no such version."""
        with db.transaction(self.sessions) as session:
            xml = session.scalar(select(ProcessDefinition.xml).where(ProcessDefinition.key == key,
                                                                     ProcessDefinition.kind == BPMN,
                                                                     ProcessDefinition.version == version))
        if xml is None:
            raise NotFound(f"流程 {key} 没有版本 {version}")
        return str(xml)

    def samples(self, key: str) -> list[dict[str, Any]]:
        """The sample cases of `key` (processes/samples/<key>.yaml); SampleFileError when unusable."""
        try:
            return load_samples(key)
        except FileNotFoundError as err:
            raise SampleFileError(str(err)) from err

    def problems(self, xml: bytes, key: str, filename: str) -> list[Problem]:
        """Every deploy check plus reachability, against what is deployed (the processes its call activities
        and the decisions its rule tasks reach); a draft of another process key is refused too."""
        try:
            dependencies = self._dependencies(xml, filename)
        except BpmnRejected as err:
            return err.problems
        return check_draft(xml, filename, self.settings, dependencies) or _key_problems(xml, key, filename)

    def warnings(self, xml: bytes, filename: str) -> list[Problem]:
        """What validate points out without refusing the draft: a task with no deadline, one naming no one."""
        try:
            models = validate_all(xml, filename, self.settings, self._dependencies(xml, filename))
        except BpmnRejected:
            return []
        return [w for model in models for w in model.warnings]

    def _dependencies(self, xml: bytes, filename: str) -> Dependencies:
        """What a draft may call: deployed processes and decisions (the repository's for those not deployed)."""
        with db.transaction(self.sessions) as session:
            checking = DeploySet(session, self.settings, [DeployFile(filename, xml)], known_groups(self.settings))
            return checking.dependencies(checking.parsed[0])

    def check_files(self, files: list[DeployFile]) -> list[Problem]:
        """The problems of a set of files checked together, as deploy would check them ([] when it may deploy)."""
        with db.transaction(self.sessions) as session:
            try:
                DeploySet(session, self.settings, files, known_groups(self.settings)).check()
            except BpmnRejected as err:
                return err.problems
        return []

    def try_samples(self, xml: bytes, key: str, filename: str) -> list[SampleResult]:
        """Run the sample cases of `key` against a draft in memory; no case is touched.

        :raises BpmnRejected: the draft has problems; SampleFileError: the samples are unusable.
        """
        problems = self.problems(xml, key, filename)
        if problems:
            raise BpmnRejected(problems)
        return run_samples(xml, self.samples(key), self.settings, self.calendar, filename, key,
                           self._dependencies(xml, filename))

    def deploy_draft(self, xml: bytes, key: str, filename: str, deployed_by: str, comment: str,
                     despite_samples: bool = False, reason: str | None = None) -> DeployResult:
        """Deploy a draft of `key` from the design pages: a comment is required, the key must match."""
        text = _checked_text(comment, "部署说明", "comment")
        problems = _key_problems(xml, key, filename)
        if problems:
            raise BpmnRejected(problems)
        return self.deploy(xml, filename, deployed_by, text, despite_samples, reason)

    def deploy(self, xml: bytes, filename: str, deployed_by: str, comment: str | None = None,
               despite_samples: bool = False, reason: str | None = None) -> DeployResult:
        """Deploy one file (see `deploy_files`); the result of its first process or decision."""
        return self.deploy_files([DeployFile(filename, xml)], deployed_by, comment, despite_samples, reason)[0]

    def deploy_files(self, files: list[DeployFile], deployed_by: str, comment: str | None = None,
                     despite_samples: bool = False, reason: str | None = None) -> list[DeployResult]:
        """Every deploy path ends here (modeler, upload, `relief deploy`): the deploy checks of the whole
        set, then each changed process's sample cases; a draft whose samples fail is refused with them
        (SamplesFailed) unless `despite_samples` with a `reason`, which the audit log keeps. Unchanged
        files are a no-op."""
        forced = _checked_text(reason, "越过样例部署的理由", "reason") if despite_samples else None
        gate = self._samples_gate(forced)
        with db.transaction(self.sessions) as session:
            return deploy_set(session, self.settings, files, deployed_by, clock.now(), comment, gate)

    def _samples_gate(self, forced: str | None) -> DeployGate:
        def gate(model: ProcessModel, xml: bytes, filename: str, dependencies: Dependencies) -> dict[str, Any]:
            broken: str | None = None
            if not has_samples(model.key):
                return {"samples": "none"}
            try:
                samples = load_samples(model.key)
            except SampleFileError as err:
                samples, broken = [], str(err)
            results = (run_samples(xml, samples, self.settings, self.calendar, filename, model.key, dependencies)
                       if samples else [])
            failed = [r for r in results if r.status != "passed"]
            if broken:
                failed.insert(0, SampleResult("样例文件", "error", f"样例文件有误：{broken}"))
            details: dict[str, Any] = {"samples_passed": len(results) - len(failed) + bool(broken),
                                       "samples_failed": [r.name for r in failed]}
            if failed and forced is None:
                raise SamplesFailed(model.key, failed, len(results) + bool(broken))
            if failed:
                details["despite_samples"] = forced
            return details

        return gate

    def diff(self, key: str, from_version: int, to_version: int) -> dict[str, list[dict[str, Any]]]:
        """Elements added, removed and changed between two versions of `key`."""
        return diff_definitions(self.version_xml(key, from_version).encode("utf-8"),
                                self.version_xml(key, to_version).encode("utf-8"))

    def diff_page(self, key: str, from_version: int | None, to_version: int | None) -> dict[str, Any]:
        """The diff page: the versions, the two compared (default: the newest and the one before), the changes
        and their one-line summary; NotFound for a version that does not exist."""
        rows = self.versions(key)
        numbers = [r.version for r in rows]
        to_version = to_version or numbers[0]
        from_version = from_version or (to_version - 1 if to_version - 1 in numbers else to_version)
        if from_version not in numbers or to_version not in numbers:
            raise NotFound(f"流程 {key} 没有该版本")
        changes = self.diff(key, from_version, to_version)
        return {"key": key, "versions": rows, "from_version": from_version, "to_version": to_version,
                "diff": changes, "summary": summarise_diff(changes)}

    def modeler_page(self, key: str, version: int | None) -> dict[str, Any]:
        """The modeler page: the versions, the one opened (default the newest) with its XML, and the samples
        (or why they cannot be used); NotFound for a version that does not exist."""
        rows = self.versions(key)
        wanted = version or rows[0].version
        if wanted not in {r.version for r in rows}:
            raise NotFound(f"流程 {key} 没有版本 {wanted}")
        samples_error = None
        try:
            samples = self.samples(key)
        except SampleFileError as err:
            samples, samples_error = [], str(err)
        xml = self.version_xml(key, wanted)
        return {"key": key, "version": wanted, "versions": rows, "latest": rows[0].version,
                "xml": xml, "samples": samples, "samples_error": samples_error, "decisions": self.decisions_used(xml)}


def _key_problems(xml: bytes, key: str, filename: str) -> list[Problem]:
    """A draft of another process is refused here; unreadable XML is left to the checks to report."""
    try:
        tree = parse_safely(xml, filename)
    except BpmnRejected:
        return []
    found = [process.get("id") for process in executable_processes(tree)]
    if not found or found[0] == key:
        return []
    return [Problem(filename, None, found[0], f"流程标识应为 {key}，草稿中为 {found[0]}")]
