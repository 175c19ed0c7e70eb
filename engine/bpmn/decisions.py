"""DMN decision tables (决策表): read, check and evaluate them the way the engine will.

A `.dmn` file deploys beside the BPMN that uses it (a business rule task's `camunda:decisionRef`
names the decision) and is versioned like a process. SpiffWorkflow's DMN support runs the first
decision table of a file, so a file holds exactly one decision with one table. Every cell is a
Python expression evaluated in the same sandbox, under the same budget, as conditions and scripts:
an input entry is either a value to compare with (`"低保户"`, `3`) or a test on the input (`> 5`,
`in ["a", "b"]`, `? < 1000`); `-` or an empty cell matches anything. Deploy refuses a cell the sandbox
refuses, and FEEL-only syntax (`[1..5]`, `not(…)`) with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import SpiffWorkflow
from lxml import etree

from engine.bpmn.loader import BpmnRejected, Dependencies, Problem, parse_safely, references
from engine.bpmn.sandbox import expression_errors

_SCHEMAS = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "DMN.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "DMN12.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "DMN13.xsd",
}
_SCHEMA_DIR = Path(SpiffWorkflow.__file__).parent / "dmn" / "parser" / "schema"


@dataclass(frozen=True)
class Decision:
    """The decision a DMN file provides."""

    id: str
    name: str


def _ns(tree: etree._ElementTree) -> str:
    return etree.QName(tree.getroot()).namespace or ""


@lru_cache(maxsize=4)
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_SCHEMA_DIR / name)))


def decision_of(tree: etree._ElementTree) -> Decision | None:
    """The (first) decision of a DMN document."""
    found = tree.getroot().find(f"{{{_ns(tree)}}}decision")
    if found is None or not found.get("id"):
        return None
    return Decision(found.get("id", ""), found.get("name") or found.get("id", ""))


def decision_problems(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Everything that would refuse the DMN file: schema, one decision with one table, every cell."""
    ns = _ns(tree)
    if ns not in _SCHEMAS:
        return [Problem(filename, None, None, f"不支持的 DMN 版本（命名空间 {ns}）")]
    schema = _schema(_SCHEMAS[ns])
    if not schema.validate(tree):
        return [Problem(filename, e.line, None, f"不符合 DMN XSD：{e.message}") for e in schema.error_log][:50]
    decisions = tree.getroot().findall(f"{{{ns}}}decision")
    if len(decisions) != 1:
        return [Problem(filename, None, None, f"一个 DMN 文件应恰好有一个决策（decision），实际有 {len(decisions)} 个")]
    tables = decisions[0].findall(f"{{{ns}}}decisionTable")
    if len(tables) != 1:
        return [Problem(filename, decisions[0].sourceline, decisions[0].get("id"), "决策应恰好有一张决策表")]
    return _cell_problems(tables[0], ns, filename)


def _cell_problems(table: etree._Element, ns: str, filename: str) -> list[Problem]:
    found = []
    for node in table.iter(f"{{{ns}}}inputExpression", f"{{{ns}}}inputEntry", f"{{{ns}}}outputEntry"):
        text_node = node.find(f"{{{ns}}}text")
        text = (text_node.text or "").strip() if text_node is not None else ""
        if not text or text == "-":
            continue
        kind = etree.QName(node).localname
        message = _cell_problem(text, kind)
        if message:
            where = next((a.get("id") for a in node.iterancestors() if a.get("id")), None)
            found.append(Problem(filename, node.sourceline, node.get("id") or where, message))
    return found


def _cell_problem(text: str, kind: str) -> str | None:
    label = {"inputExpression": "输入表达式", "inputEntry": "条件单元格", "outputEntry": "输出单元格"}[kind]
    if ".." in text or text.startswith("not("):
        return f"{label} {text!r}：单元格须为 Python 表达式，不支持 FEEL 的区间或 not() 写法"
    if kind == "inputEntry" and "?" in text:
        # A test with the input in place of `?` (`800 <= ? < 1275`), as the engine evaluates it.
        errors = expression_errors(text.replace("?", "v"))
    else:
        errors = expression_errors(text)
        if errors and kind == "inputEntry":
            # A test on the input: the engine puts the input in front (`> 5` → `v > 5`).
            errors = expression_errors(f"v {text}")
    return f"{label} {text!r} 无法通过沙箱编译：{errors[0]}" if errors else None


# The repository's own decision tables (processes/*.dmn) seed a county's: a process that uses one which
# is not deployed yet gets it deployed with it (version 1); from then on the deployed, county-edited
# version is the one that runs. Validating and trying a draft see them the same way.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "processes"


def shipped_decisions(directory: Path | None = None) -> dict[str, Path]:
    """Decision id → the repository's .dmn file providing it (each file read once until it changes)."""
    found: dict[str, Path] = {}
    for path in sorted((directory or SHIPPED_DIR).glob("*.dmn")):
        decision_id = _decision_id(str(path), path.stat().st_mtime_ns)
        if decision_id is not None:
            found.setdefault(decision_id, path)
    return found


@lru_cache(maxsize=64)
def _decision_id(path: str, _mtime: int) -> str | None:
    try:
        decision = decision_of(parse_safely(Path(path).read_bytes(), Path(path).name))
    except BpmnRejected:
        return None
    return decision.id if decision is not None else None


def with_shipped(tree: etree._ElementTree, dependencies: Dependencies) -> Dependencies:
    """`dependencies` plus the shipped decision tables `tree`'s business rule tasks use and nothing else provides."""
    wanted = references(tree)[1] - set(dependencies.decisions)
    if not wanted:
        return dependencies
    shipped = shipped_decisions()
    missing = sorted(d for d in wanted if d in shipped)
    if not missing:
        return dependencies
    trees = [parse_safely(shipped[d].read_bytes(), shipped[d].name) for d in missing]
    return Dependencies((*dependencies.trees, *trees), dependencies.processes,
                        frozenset({*dependencies.decisions, *missing}))
