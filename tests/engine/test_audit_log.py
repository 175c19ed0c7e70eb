"""What the audit log holds and how it is read: every action written through `audit` has a Chinese label,
administrators' actions on cases are logged with their reasons, and the search filters and CSV rows are the
engine's (the page's and export's behaviour is tested in tests/web/test_audit_pages.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from engine.audit.labels import ACTION_LABELS
from engine.audit.log import AuditFilter
from engine.cases.runtime import CaseEngine
from engine.errors import Forbidden, InvalidData
from tests.support.audit import entries
from tests.support.cases import start
from tests.support.db import ROOT, principal


def _passed(tree: ast.AST, function: ast.FunctionDef, name: str) -> list[ast.expr]:
    """What the module's calls of `function` pass for its parameter `name` (positionally; `self.` calls skip self)."""
    params = [a.arg for a in function.args.args]
    index = params.index(name) - (params[:1] == ["self"])
    return [call.args[index] for call in ast.walk(tree) if isinstance(call, ast.Call) and len(call.args) > index
            and getattr(call.func, "attr", getattr(call.func, "id", None)) == function.name]


def _action_codes(tree: ast.AST, call: ast.Call, function: ast.FunctionDef) -> list[str]:
    """The action codes an `audit(session, actor, ACTION, …)` call can write: a literal, either side of a
    conditional, a name assigned in the same function or passed to it by the module's calls, or the prefix of
    an f-string (ending in `*`)."""
    nodes: list[ast.expr] = [call.args[2]]
    if isinstance(nodes[0], ast.Name):
        name = nodes[0].id
        nodes = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)] or _passed(tree, function, name)
    codes = []
    for node in nodes:
        if isinstance(node, ast.IfExp):
            codes += [n.value for n in (node.body, node.orelse) if isinstance(n, ast.Constant)]
        elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
            codes.append(f"{node.values[0].value}*")
        elif isinstance(node, ast.Constant):
            codes.append(node.value)
        else:
            raise AssertionError(f"cannot tell the action of {ast.unparse(call)}")
    assert codes, ast.unparse(call)
    return codes


def written_actions() -> dict[str, str]:
    """Action code → where engine/ writes it, from every call of `audit(…)`."""
    found = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in ast.walk(function):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "audit":
                    for code in _action_codes(tree, call, function):
                        found[code] = f"{Path(path).relative_to(ROOT)}:{call.lineno}"
    return found


def test_every_action_written_has_a_label() -> None:
    """Each action code an `audit(…)` call in engine/ writes (content_* from the content module's actions) has a
    Chinese label, and every label names an action that is written."""
    written = written_actions()
    assert {"login", "unmask", "deploy_definition", "deploy_despite_samples", "audit_exported"} <= set(written)
    missing = {code: where for code, where in written.items()
               if not (code.endswith("*") and any(a.startswith(code[:-1]) for a in ACTION_LABELS))
               and code not in ACTION_LABELS}
    assert missing == {}
    prefixes = [code[:-1] for code in written if code.endswith("*")]
    unused = [a for a in ACTION_LABELS if a not in written and not any(a.startswith(p) for p in prefixes)]
    assert unused == []


def test_administrators_actions_on_cases_are_logged_with_their_reasons(case_engine: CaseEngine) -> None:
    """Suspending, resuming and terminating a case each write an audit entry naming the case and the reason."""
    case_no = start(case_engine)
    case_engine.admin.suspend_case(case_no, "admin1", "核实身份")
    case_engine.admin.resume_case(case_no, "admin1", "已核实")
    case_engine.admin.terminate_case(case_no, "admin1", "重复申请")
    logged = [(e["actor"], e["action"], e["target"], e["details"]["reason"]) for e in entries(case_engine.database_url)
              if e["action"].startswith("case_")]
    assert logged == [("admin1", "case_suspended", case_no, "核实身份"), ("admin1", "case_resumed", case_no, "已核实"),
                      ("admin1", "case_terminated", case_no, "重复申请")]


@pytest.mark.parametrize("values, field", [({"since": "2026-13-01"}, "since"), ({"until": "昨天"}, "until"),
                                           ({"since": "2026-05-02", "until": "2026-05-01"}, "until"),
                                           ({"actor": "x" * 101}, "actor")])
def test_a_bad_filter_names_its_field(values: dict[str, str], field: str) -> None:
    """A date that is not YYYY-MM-DD, a period that ends before it starts, an overlong name: InvalidData on it."""
    with pytest.raises(InvalidData) as refused:
        AuditFilter.parse(values)
    assert list(refused.value.errors) == [field]


def test_a_filter_keeps_only_what_was_given() -> None:
    """Blank fields are no condition; the rest come back as text (what an export records)."""
    wanted = AuditFilter.parse({"actor": " center1 ", "action": "", "since": "2026-05-01", "page": "3"})
    assert wanted.as_dict() == {"actor": "center1", "since": "2026-05-01"} and len(wanted.clauses()) == 2


def test_only_administrators_read_or_export_the_log(case_engine: CaseEngine) -> None:
    """The center's officer is refused the search and the export by scoping ('audit'); admin1 gets them."""
    center: Any = principal(case_engine, "center1")
    with pytest.raises(Forbidden):
        case_engine.audit.page(center, {})
    with pytest.raises(Forbidden):
        case_engine.audit.export(center, {})
    assert case_engine.audit.page(principal(case_engine, "admin1"), {}).total == len(entries(case_engine.database_url))
