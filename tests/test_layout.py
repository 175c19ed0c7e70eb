"""The shape of the code: layers point one way, no import cycles, one settings module, thin views."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.db import ROOT

BLUEPRINTS = {"web.auth", "web.inbox", "web.tasks", "web.cases", "web.intake", "web.portal", "web.notifications",
              "web.calendar_admin", "web.design", "web.instances", "web.content", "web.catalog", "web.publicity_admin",
              "web.orgs_admin", "web.feedback", "web.devices_admin", "web.tablet", "web.audit_admin"}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of a top-level package."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path, known: set[str]) -> Iterator[str]:
    """The modules of `known` that `path` imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            if name in known:
                yield name


def graph(*packages: str) -> dict[str, set[str]]:
    """Module → the project modules it imports."""
    files = {name: path for package in packages for name, path in modules(package).items()}
    return {name: set(imports(path, set(files))) - {name} for name, path in files.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_in_engine_or_web() -> None:
    """No module of engine/ or web/ imports itself back through others (definitions ↔ design.checks was one)."""
    edges = graph("engine", "web")
    assert "engine.cases.workflows" in edges["engine.cases.runtime"]  # the graph sees real imports
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # and would report a cycle
    assert cycle_in(edges) is None


def test_engine_knows_nothing_of_flask_or_the_web_app() -> None:
    """Layers point one way: web → engine → SpiffWorkflow; engine/ never imports flask or web."""
    offenders = []
    for name, path in modules("engine").items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            targets = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            if any(t.split(".")[0] in ("flask", "flask_login", "flask_sqlalchemy", "web") for t in targets):
                offenders.append(name)
    assert offenders == []


def test_blueprints_do_not_import_each_other() -> None:
    """Each page module stands alone; what they share lives in services, presenters and application_form."""
    edges = graph("web")
    crossing = {name: sorted(edges[name] & BLUEPRINTS) for name in BLUEPRINTS if edges[name] & BLUEPRINTS}
    assert crossing == {}


def test_only_the_settings_module_reads_the_environment() -> None:
    """`os.environ` appears in engine/ only in engine/settings.py (everything else is given Settings)."""
    readers = sorted(name for name, path in modules("engine").items() if "os.environ" in path.read_text("utf-8"))
    assert readers == ["engine.settings"]


def test_views_open_no_transactions_and_hold_no_queries() -> None:
    """web/ opens no database transaction and builds no SQL: every page asks one engine function."""
    tokens = ("transaction()", "select(", "from sqlalchemy import", "from sqlalchemy.orm", ".execute(")
    offenders = sorted(name for name, path in modules("web").items()
                       if any(token in path.read_text("utf-8") for token in tokens))
    assert offenders == []
