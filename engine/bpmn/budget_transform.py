"""The sandbox's compile policy with the run-time budget woven in (see `engine.bpmn.budget`).

`BudgetedTransformer` is RestrictedPython's own transformer plus four rewrites:

- `a * b`, `a ** b`, `a << b`, `a + b`, `a % b` become `_op_('*', a, b)` …, checked before computing;
- every `while` body and every function body starts with `_tick_()`, and a lambda's body is
  `_tick_() or body`, so loops and recursion spend the budget (`for` loops and comprehensions
  already iterate through `_getiter_`, which ticks per item);
- constant operands are checked at compile time with the same rules, as are `range(…)` and
  `pow(…)` of constants, f-string widths, and `while True` with no `break` or `return`: the
  obvious payloads are refused when the draft is validated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from RestrictedPython.transformer import RestrictingNodeTransformer

from engine.bpmn.budget import MAX_LENGTH, BudgetExceeded, checked_op, checked_pow, checked_range

_OPERATORS: dict[type, str] = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}
_STATIC_CALLS: dict[str, Callable[..., Any]] = {"range": checked_range, "pow": checked_pow}


class _NotStatic(Exception):
    """The subtree's value is only known at run time."""


def _static(node: ast.AST) -> Any:
    """The value of a constant subtree, computed under the budget's checks; _NotStatic otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bytes):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_static(node.operand)
    if isinstance(node, ast.List | ast.Tuple) and len(node.elts) <= 16:
        return [_static(e) for e in node.elts]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        try:
            return checked_op(_OPERATORS[type(node.op)], _static(node.left), _static(node.right))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
            raise _NotStatic from err
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _STATIC_CALLS \
            and not node.keywords:
        return _STATIC_CALLS[node.func.id](*(_static(a) for a in node.args))
    raise _NotStatic


def _exits(body: list[ast.stmt]) -> bool:
    """True when a `break` or `return` of this loop (not of a nested loop or function) is in `body`."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break | ast.Return | ast.Raise):
            return True
        if isinstance(node, ast.While | ast.For | ast.FunctionDef | ast.Lambda | ast.ClassDef):
            pending.extend(node.orelse if isinstance(node, ast.While | ast.For) else [])
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _placed(new: ast.AST, old: ast.AST) -> Any:
    return ast.fix_missing_locations(ast.copy_location(new, old))


class BudgetedTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the budget's operator checks and ticks."""

    def _check_static(self, node: ast.AST) -> None:
        try:
            _static(node)
        except BudgetExceeded as err:
            self.error(node, f"计算量过大，不允许部署：{err}")
        except (_NotStatic, TypeError, ValueError, ZeroDivisionError, OverflowError):
            pass

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        op = _OPERATORS.get(type(node.op))
        if op is not None:
            self._check_static(node)
        node = self.node_contents_visit(node)
        if op is None:
            return node
        return _placed(_call("_op_", ast.Constant(op), node.left, node.right), node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in _STATIC_CALLS:
            self._check_static(node)
        return super().visit_Call(node)

    def visit_While(self, node: ast.While) -> Any:
        if isinstance(node.test, ast.Constant) and node.test.value and not _exits(node.body):
            self.error(node, "循环条件恒为真且循环中没有 break 或 return，会无限循环")
        node = self.node_contents_visit(node)
        node.body.insert(0, _placed(ast.Expr(_call("_tick_")), node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        visited = super().visit_FunctionDef(node)
        assert isinstance(visited, ast.FunctionDef)
        visited.body.insert(0, _placed(ast.Expr(_call("_tick_")), visited))
        return visited

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        visited = super().visit_Lambda(node)
        assert isinstance(visited, ast.Lambda)
        visited.body = _placed(ast.BoolOp(op=ast.Or(), values=[_call("_tick_"), visited.body]), visited.body)
        return visited

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if isinstance(spec, ast.JoinedStr):
            if any(isinstance(part, ast.FormattedValue) for part in spec.values):
                self.error(node, "格式化宽度不能由变量给出")
            for part in spec.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    for number in re.findall(r"\d+", part.value):
                        if int(number) > MAX_LENGTH:
                            self.error(node, f"格式化宽度 {int(number):,} 超过上限 {MAX_LENGTH:,}")
        return self.node_contents_visit(node)
