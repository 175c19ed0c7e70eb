"""Load and validate BPMN documents before they are deployed.

Uploaded XML is parsed by lxml with entity resolution, DTD loading and network access off,
and any DOCTYPE is refused (XXE, billion laughs). The document must validate against the
BPMN 2.0 XSD and pass the product's lint: known form keys and candidate groups, a valid
`dueWorkdays` on every user task, and every expression and script compiling in the sandbox.
Every refusal names the file, the line and the element id.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import SpiffWorkflow
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.bpmn.parser import build_specs, is_dmn  # noqa: F401 - is_dmn: callers read it with the loader
from engine.bpmn.sandbox import expression_errors, script_errors
from engine.bpmn.usertasks import (
    BPMN_NS,
    CAMUNDA_NS,
    NS,
    ReadContext,
    UserTaskMeta,
    checked_workdays,
    is_juel,
    lanes_of,
    read_user_task,
)
from engine.status import CLOSED_COMPLETED, END_STATUSES

XSD_PATH = Path(SpiffWorkflow.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


@dataclass(frozen=True)
class Problem:
    """One reason a BPMN document is refused."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        element = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{element}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready dict."""
        return {"file": self.file, "line": self.line, "element_id": self.element_id, "message": self.message}


class BpmnRejected(Exception):
    """The document cannot be deployed; `problems` says why."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class ProcessModel:
    """A validated BPMN document and the metadata the engine needs from it."""

    key: str
    name: str
    tree: etree._ElementTree
    user_tasks: dict[str, UserTaskMeta] = field(default_factory=dict)
    end_statuses: dict[str, str] = field(default_factory=dict)
    element_names: dict[str, str] = field(default_factory=dict)
    # What validate points out without refusing: a task with no deadline, one with no assignment.
    warnings: list[Problem] = field(default_factory=list)
    # The user tasks of the processes its call activities reach (other files), by process key.
    called_tasks: dict[str, dict[str, UserTaskMeta]] = field(default_factory=dict)

    def task_meta(self, process: str, element_id: str) -> UserTaskMeta | None:
        """A user task's metadata: of the called process `process` when it is one, else of this model."""
        return self.called_tasks.get(process, {}).get(element_id) or self.user_tasks.get(element_id)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, dtd_validation=False,
                           no_network=True, huge_tree=False, remove_comments=False)


def parse_safely(data: bytes, filename: str) -> etree._ElementTree:
    """Parse untrusted XML with entities and DTDs off; refuse any DOCTYPE."""
    if _DOCTYPE.search(data):
        raise BpmnRejected([Problem(filename, _line_of(data, _DOCTYPE), None,
                                    "不允许包含 DOCTYPE 或实体声明（安全限制）")])
    try:
        tree = etree.ElementTree(etree.fromstring(data, _safe_parser()))
    except etree.XMLSyntaxError as err:
        raise BpmnRejected([Problem(filename, err.lineno, None, f"XML 格式错误：{err.msg}")]) from err
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise BpmnRejected([Problem(filename, 1, None, "不允许包含 DOCTYPE 或实体声明（安全限制）")])
    return tree


MAX_BPMN_BYTES = 2 * 1024 * 1024
_UTF8 = {"UTF-8", "UTF8"}


def parse_draft(data: bytes, filename: str) -> etree._ElementTree:
    """Parse a draft or upload: refused above MAX_BPMN_BYTES before any parsing, then `parse_safely`."""
    if len(data) > MAX_BPMN_BYTES:
        raise BpmnRejected([Problem(filename, None, None, f"流程文件为 {len(data) / 1024 / 1024:.1f} MB，"
                                                          f"超过 {MAX_BPMN_BYTES // 1024 // 1024} MB 上限")])
    return parse_safely(data, filename)


def as_utf8(data: bytes, tree: etree._ElementTree) -> bytes:
    """The document as UTF-8 bytes: unchanged when it is UTF-8 already, else re-serialised from `tree`
    (a UTF-16 or GBK file is stored, shown and diffed as UTF-8, with its declaration updated)."""
    if (tree.docinfo.encoding or "UTF-8").upper() in _UTF8:
        return data
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def _line_of(data: bytes, pattern: re.Pattern[bytes]) -> int | None:
    match = pattern.search(data)
    return data.count(b"\n", 0, match.start()) + 1 if match else None


@lru_cache(maxsize=1)
def _xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def _ids_by_line(tree: etree._ElementTree) -> dict[int, str]:
    """The first element id on each source line, read in one pass (a lookup per error was quadratic)."""
    found: dict[int, str] = {}
    for element in tree.iter():
        if isinstance(element.tag, str) and element.sourceline is not None and element.get("id"):
            found.setdefault(element.sourceline, element.get("id"))
    return found


# libxml2 words each schema error with the node's path, counting the node's siblings to do so: one
# error costs as much as its parent has children, so thousands of errors under one parent took
# minutes. A parent with more children than this is validated in windows of them (see _windows).
XSD_WINDOW = 500
MAX_PROBLEMS = 200


def xsd_problems(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Validate against the BPMN 2.0 XSD, one problem per schema error (at most MAX_PROBLEMS listed)."""
    schema = _xsd()
    ids = _ids_by_line(tree)
    big = [parent for parent in tree.iter() if len(parent) > XSD_WINDOW]
    problems: dict[tuple[int | None, str], Problem] = {}
    for _window in _windows(big) if big else iter([None]):
        if schema.validate(tree):
            continue
        for e in schema.error_log:
            problems.setdefault((e.line, e.message), Problem(filename, e.line, ids.get(e.line) if e.line else None,
                                                             f"不符合 BPMN 2.0 XSD：{e.message}"))
    found = sorted(problems.values(), key=lambda p: p.line or 0) + (_duplicate_ids(tree, filename) if big else [])
    return capped(found, filename)


def _windows(big: list[etree._Element]) -> Iterator[None]:
    """Put the document, in turn, in each state where one big parent holds one window of its children
    and every other big parent its first XSD_WINDOW; the tree is restored at the end. Consecutive
    windows share a child, so every pair of adjacent children is validated together and ordering
    errors are still found; ids are checked across windows by `_duplicate_ids`. The children are
    the parsed nodes themselves (detached and put back), so problems keep their source lines."""
    children = {id(parent): list(parent) for parent in big}
    for parent in big:
        for child in children[id(parent)]:
            parent.remove(child)
    try:
        for parent in big:
            for other in big:
                if other is not parent:
                    other.extend(children[id(other)][:XSD_WINDOW])
            own = children[id(parent)]
            for start in range(0, len(own) - 1, XSD_WINDOW):
                parent.extend(own[start:start + XSD_WINDOW + 1])
                yield None
                for child in list(parent):
                    parent.remove(child)
            for other in big:
                for child in list(other):
                    other.remove(child)
    finally:
        for parent in big:
            for child in list(parent):
                parent.remove(child)
            parent.extend(children[id(parent)])


def _duplicate_ids(tree: etree._ElementTree, filename: str) -> list[Problem]:
    seen: set[str] = set()
    found = []
    for element in tree.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if element_id is not None:
            if element_id in seen:
                found.append(Problem(filename, element.sourceline, element_id, f"元素 id {element_id!r} 重复"))
            seen.add(element_id)
    return found


def capped(problems: list[Problem], filename: str) -> list[Problem]:
    """At most MAX_PROBLEMS problems, the rest counted in a last one (a page of thousands helps no one)."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(filename, None, None, f"另有 {rest} 个问题未列出，请先修正以上问题")]


def _camunda(element: etree._Element, name: str) -> str | None:
    return element.get(f"{{{CAMUNDA_NS}}}{name}")


def _properties(element: etree._Element) -> dict[str, str]:
    nodes = element.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
    return {n.get("name"): n.get("value", "") for n in nodes}


class _Linter:
    """Collects lint problems (and warnings) for one document."""

    def __init__(self, model: ProcessModel, filename: str, known_forms: set[str], known_groups: Mapping[str, str],
                 known_decisions: Collection[str] = (), known_processes: Collection[str] = ()):
        self.model, self.filename = model, filename
        self.known_forms, self.known_groups, self.known_decisions = known_forms, known_groups, known_decisions
        self.known_processes = known_processes
        self.problems: list[Problem] = []

    def add(self, element: etree._Element, message: str) -> None:
        self.problems.append(Problem(self.filename, element.sourceline, element.get("id"), message))

    def warn(self, element: etree._Element, message: str) -> None:
        self.model.warnings.append(Problem(self.filename, element.sourceline, element.get("id"), message))

    def run(self, process: etree._Element) -> None:
        for element in process.iter():
            if isinstance(element.tag, str) and element.get("id") and element.get("name"):
                self.model.element_names[element.get("id")] = element.get("name")
        context = self.context(process)
        for task in process.iter(f"{{{BPMN_NS}}}userTask"):
            meta, findings = read_user_task(task, _properties(task), context)
            self.model.user_tasks[meta.id] = meta
            for severity, message in findings:
                (self.add if severity == "error" else self.warn)(task, message)
        for end in process.iter(f"{{{BPMN_NS}}}endEvent"):
            self.end_event(end)
        self.unsupported(process)
        for element, kind, source in _expressions(process):
            if is_juel(source):
                self.add(element, f"{_KIND_LABEL[kind]} {source.strip()!r}：表达式须为 Python，不支持 JUEL")
                continue
            errors = script_errors(source) if kind == "script" else expression_errors(source)
            for error in errors:
                self.add(element, f"{_KIND_LABEL[kind]}无法通过沙箱编译：{error}")

    def context(self, process: etree._Element) -> ReadContext:
        """The process's defaults (camunda properties `defaultGroup`, `dueWorkdays`) and lanes."""
        properties = _properties(process)
        default_group = properties.get("defaultGroup")
        if default_group is not None and default_group not in self.known_groups:
            self.add(process, f"流程属性 defaultGroup 的 {default_group!r} 不是角色或机构")
        findings: list[tuple[str, str]] = []
        workdays = checked_workdays(properties["dueWorkdays"], findings) if "dueWorkdays" in properties else None
        for _severity, message in findings:
            self.add(process, f"流程属性 {message}")
        return ReadContext(self.known_forms, self.known_groups, lanes_of(process),
                           self.known_groups.get(default_group or "", default_group), workdays)

    def unsupported(self, process: etree._Element) -> None:
        """What would only fail when a case reaches it is refused now, saying what is not supported."""
        for task in process.iter(f"{{{BPMN_NS}}}serviceTask", f"{{{BPMN_NS}}}sendTask"):
            how = next((f"camunda:{a}" for a in ("class", "delegateExpression", "expression", "type")
                        if _camunda(task, a)), None)
            self.add(task, f"服务任务{f'（{how}）' if how else ''}没有注册的处理程序：本系统不运行 Java 类或外部任务，"
                           "请改用脚本任务或用户任务")
        for task in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
            decision = _camunda(task, "decisionRef")
            if not decision:
                self.add(task, "业务规则任务缺少 camunda:decisionRef（要调用的决策表）")
            elif decision not in self.known_decisions:
                self.add(task, f"业务规则任务引用的决策表 {decision!r} 未部署，也不在本次部署的文件中")
        for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
            callee = call.get("calledElement")
            if not callee:
                self.add(call, "调用活动缺少 calledElement（要调用的流程标识）")
            elif callee not in self.known_processes:
                self.add(call, f"调用活动「{call.get('name') or call.get('id')}」调用的流程 {callee!r} 未部署，"
                               "也不在本次部署的文件中")

    def end_event(self, end: etree._Element) -> None:
        status = _properties(end).get("caseStatus", CLOSED_COMPLETED)
        if status not in END_STATUSES:
            self.add(end, f"caseStatus 应为 {' 或 '.join(END_STATUSES)}，实际为 {status!r}")
        self.model.end_statuses[end.get("id")] = status


_KIND_LABEL = {"condition": "条件表达式", "script": "脚本", "timer": "定时器表达式", "loop": "多实例表达式"}


def _expressions(process: etree._Element) -> Iterator[tuple[etree._Element, str, str]]:
    def texts(xpath: str) -> Iterator[tuple[etree._Element, str]]:
        for node in process.xpath(xpath, namespaces=NS):
            # Report against the flow element a designer can select, not its event definition.
            owner = next((a for a in node.iterancestors()
                          if a.get("id") and not str(a.tag).endswith("EventDefinition")), node)
            yield owner, (node.text or "")

    for owner, text in texts(".//bpmn:conditionExpression"):
        yield owner, "condition", text
    for owner, text in texts(".//bpmn:scriptTask/bpmn:script"):
        yield owner, "script", text
    for owner, text in texts(".//bpmn:timerEventDefinition/*"):
        yield owner, "timer", text
    for owner, text in texts(".//bpmn:loopCardinality | .//bpmn:completionCondition"):
        yield owner, "loop", text


def references(tree: etree._ElementTree) -> tuple[set[str], set[str]]:
    """The process keys a BPMN document's call activities call, and the decisions its business rule tasks use."""
    called = {c.get("calledElement", "") for c in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity")}
    used = {t.get(f"{{{CAMUNDA_NS}}}decisionRef", "") for t in tree.getroot().iter(f"{{{BPMN_NS}}}businessRuleTask")}
    return called - {""}, used - {""}


@dataclass(frozen=True)
class Dependencies:
    """What a document may call besides itself: other documents of the deploy set or deployed versions
    (parsed trees, for the engine's parser), and the process keys and decision ids they provide."""

    trees: tuple[etree._ElementTree, ...] = ()
    processes: frozenset[str] = frozenset()
    decisions: frozenset[str] = frozenset()


NO_DEPENDENCIES = Dependencies()


def _spiff_problems(tree: etree._ElementTree, key: str, filename: str,
                    dependencies: Dependencies = NO_DEPENDENCIES) -> list[Problem]:
    try:
        build_specs(tree, key, filename, dependencies.trees)
    except ValidationException as err:
        return [Problem(filename, getattr(err, "line_number", None) or None, getattr(err, "id", None),
                        f"流程引擎无法解析：{err}")]
    return []


def _executable(tree: etree._ElementTree, filename: str) -> list[etree._Element]:
    processes = [p for p in tree.getroot().iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]
    if not processes:
        raise BpmnRejected([Problem(filename, None, None, "文件中没有可执行流程 (isExecutable=\"true\")")])
    return processes


def inspect_processes(tree: etree._ElementTree, filename: str, known_forms: set[str],
                      known_groups: Mapping[str, str],
                      dependencies: Dependencies = NO_DEPENDENCIES) -> list[tuple[ProcessModel, list[Problem]]]:
    """Read each executable process of a document (a collaboration holds several), with its lint problems."""
    found = []
    own = {p.get("id") for p in _executable(tree, filename)}
    for process in _executable(tree, filename):
        model = ProcessModel(process.get("id"), process.get("name") or process.get("id"), tree)
        linter = _Linter(model, filename, known_forms, known_groups, dependencies.decisions,
                         own | dependencies.processes)
        linter.run(process)
        found.append((model, linter.problems))
    return found


def inspect_process(tree: etree._ElementTree, filename: str, known_forms: set[str],
                    known_groups: Mapping[str, str], key: str | None = None) -> tuple[ProcessModel, list[Problem]]:
    """Read one executable process of a document: the one with id `key`, else the first."""
    found = inspect_processes(tree, filename, known_forms, known_groups)
    return next((f for f in found if f[0].key == key), found[0])


def load_processes(tree: etree._ElementTree, filename: str, known_forms: set[str], known_groups: Mapping[str, str],
                   dependencies: Dependencies = NO_DEPENDENCIES) -> list[ProcessModel]:
    """Validate a parsed BPMN document (`parse_draft`) completely and return a model per executable process,
    or raise BpmnRejected."""
    problems = xsd_problems(tree, filename)
    if problems:
        raise BpmnRejected(problems)
    inspected = inspect_processes(tree, filename, known_forms, known_groups, dependencies)
    problems = [p for _model, found in inspected for p in found]
    if problems:
        raise BpmnRejected(capped(problems, filename))
    problems = [p for model, _found in inspected for p in _spiff_problems(tree, model.key, filename, dependencies)]
    if problems:
        raise BpmnRejected(problems)
    return [model for model, _found in inspected]
