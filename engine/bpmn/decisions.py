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

from engine.bpmn.loader import Problem
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
    errors = expression_errors(text)
    if errors and kind == "inputEntry":
        # A test on the input: the engine puts the input in front (`> 5` → `v > 5`), or in place of `?`.
        as_test = expression_errors(f"v {text}")
        errors = as_test and expression_errors(text.replace("?", "v")) and as_test
    return f"{label} {text!r} 无法通过沙箱编译：{errors[0]}" if errors else None
