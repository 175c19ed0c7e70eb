"""Sandboxed evaluation of BPMN expressions and scripts.

SpiffWorkflow's default environment runs conditions and scripts with plain ``eval``/``exec``;
a restricted globals dict alone is escapable (``().__class__.__base__.__subclasses__()``).
Here every expression and script is compiled by RestrictedPython, which refuses
underscore names and frame/code internals at compile time and routes attribute access,
item access, iteration and writes through guards at run time. Only a short whitelist of
builtins and helpers is visible.

Every evaluation also runs under a budget (`engine.bpmn.budget`): the compile policy
(`engine.bpmn.budget_transform`) routes the operators that can grow without bound, loops,
functions and iteration through guards that refuse oversized results and stop a run after
one second or a million steps, with a Chinese message; constant payloads are refused at compile.
"""

from __future__ import annotations

import ast
import datetime as _dt
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from types import CodeType, FunctionType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn import budget
from engine.bpmn.budget_transform import BudgetedTransformer

EXPRESSION_FILENAME = "<bpmn-expression>"
SCRIPT_FILENAME = "<bpmn-script>"

# Attributes that lead back to interpreter internals even without a leading underscore.
_FORBIDDEN_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame", "tb_next",
    "mro", "func_globals", "func_code", "im_func", "im_self",
})


class SandboxError(SyntaxError):
    """An expression or script that the sandbox refuses to compile (a SyntaxError, as Python's own)."""

    def __init__(self, source: str, errors: Iterable[str]):
        self.source = source
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))
        # SpiffWorkflow reads a SyntaxError's line to quote the script: the first error's, else line 1.
        found = re.match(r"Line (\d+)", self.errors[0]) if self.errors else None
        self.lineno = min(int(found.group(1)), max(source.count("\n") + 1, 1)) if found else 1


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    if name in _FORBIDDEN_ATTRIBUTES or name.startswith("_"):
        raise AttributeError(f"禁止访问属性 {name!r}")
    if isinstance(obj, ModuleType | FunctionType):
        raise AttributeError(f"禁止访问 {type(obj).__name__} 的属性 {name!r}")
    if budget.unguardable(obj, name):
        raise AttributeError(f"请在对象上调用 {name}()，不要通过类型 {obj.__name__} 调用")
    value = safer_getattr_raise(obj, name, *default)
    return budget.guarded_method(obj, name, value) if budget.needs_guard(obj, name) else value


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if isinstance(key, str) and key.startswith("_") and not isinstance(obj, dict | list | tuple):
        raise KeyError(key)
    return obj[key]


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "|=": operator.ior,
    "&=": operator.iand, "^=": operator.ixor,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    if op[:-1] in budget.GUARDED_OPERATORS:
        return budget.checked_op(op[:-1], target, value)
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise SyntaxError(f"不支持的运算符 {op}") from None


# C code behind date.today(), strftime and strptime imports these through the builtins of the
# calling frame; scripts themselves can neither name __import__ nor use import statements.
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


def _internal_import(name: str, *args: Any, **kwargs: Any) -> ModuleType:
    if name not in _INTERNAL_IMPORTS:
        raise ImportError(f"不允许导入模块 {name}")
    return __import__(name, *args, **kwargs)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _safe_builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    for name in ("setattr", "delattr", "_getattr_", "__build_class__"):
        allowed.pop(name, None)
    # Exceptions outside the Exception hierarchy get past every `except Exception` (SpiffWorkflow's
    # WorkflowTaskException wrapping included): `raise SystemExit` in a script would end the process.
    for name in ("BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        allowed.pop(name, None)
    allowed["__import__"] = _internal_import
    allowed.update({
        "len": len, "min": min, "max": max, "any": any, "all": all,
        "list": list, "dict": dict, "set": set, "frozenset": frozenset, "enumerate": enumerate,
        "reversed": reversed, "map": map, "filter": filter,
        # The budget's versions of what C code would otherwise run unbounded.
        "range": budget.checked_range, "pow": budget.checked_pow, "sum": budget.checked_sum,
    })
    return allowed


SAFE_BUILTINS: Mapping[str, Any] = _safe_builtins()

SAFE_HELPERS: Mapping[str, Any] = {
    "datetime": _dt.datetime, "date": _dt.date, "timedelta": _dt.timedelta, "timezone": _dt.timezone,
    "floor": math.floor, "ceil": math.ceil,
}

_GUARDS: Mapping[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": budget.counted,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_op_": budget.checked_op,
    "_tick_": budget.tick,
}


# Without the budget: RestrictedPython alone, as before issue 10. Only the engine benchmark uses it,
# to measure what the budget costs (`RestrictedEnvironment(budgeted=False)`).
_UNBUDGETED_BUILTINS: Mapping[str, Any] = {**SAFE_BUILTINS, "range": range, "pow": pow, "sum": sum}
_UNBUDGETED_GUARDS: Mapping[str, Any] = {**_GUARDS, "_getiter_": iter}


def _policy(budgeted: bool) -> type[RestrictingNodeTransformer]:
    return BudgetedTransformer if budgeted else RestrictingNodeTransformer


@lru_cache(maxsize=4096)
def compile_expression(source: str, budgeted: bool = True) -> CodeType:
    """Compile a condition/timer/group expression or raise SandboxError."""
    result = compile_restricted_eval(source.strip(), EXPRESSION_FILENAME, policy=_policy(budgeted))
    if result.errors or result.code is None:
        raise SandboxError(source, result.errors or ["无法编译"])
    return result.code


# Statements RestrictedPython would compile but that have no business in a BPMN script: they
# only fail at run time (imports) or reach beyond the task's data (global/nonlocal, classes).
_FORBIDDEN_STATEMENTS: dict[type, str] = {
    ast.Import: "import", ast.ImportFrom: "from … import", ast.Global: "global", ast.Nonlocal: "nonlocal",
    ast.ClassDef: "class", ast.AsyncFunctionDef: "async def", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield from",
}


def _policy_errors(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # RestrictedPython reports syntax errors with its own wording
    return [f"Line {getattr(node, 'lineno', '?')}: 不允许使用 {_FORBIDDEN_STATEMENTS[type(node)]} 语句"
            for node in ast.walk(tree) if type(node) in _FORBIDDEN_STATEMENTS]


@lru_cache(maxsize=1024)
def compile_script(source: str, budgeted: bool = True) -> CodeType:
    """Compile a script task body or raise SandboxError."""
    policy = _policy_errors(source)
    if policy:
        raise SandboxError(source, policy)
    result = compile_restricted_exec(source, SCRIPT_FILENAME, policy=_policy(budgeted))
    if result.errors or result.code is None:
        raise SandboxError(source, result.errors or ["无法编译"])
    return result.code


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that only runs RestrictedPython-compiled code."""

    def __init__(self, helpers: Mapping[str, Any] | None = None, budgeted: bool = True):
        self.budgeted = budgeted
        base: dict[str, Any] = ({"__builtins__": SAFE_BUILTINS, **_GUARDS} if budgeted
                                else {"__builtins__": _UNBUDGETED_BUILTINS, **_UNBUDGETED_GUARDS})
        base.update(SAFE_HELPERS)
        base.update(helpers or {})
        super().__init__(base)

    def _running(self) -> AbstractContextManager[Any]:
        return budget.running() if self.budgeted else nullcontext()

    def _namespace(self, context: Mapping[str, Any], external: Mapping[str, Any] | None) -> dict[str, Any]:
        # Underscore names are the guards' (_getattr_, _apply_, …): task data must not supply them.
        namespace = {k: v for k, v in context.items() if not k.startswith("_")}
        namespace.update(external or {})
        namespace.update(self.globals)
        return namespace

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        code = compile_expression(expression, self.budgeted)
        with self._running():
            return eval(code, self._namespace(context, external_context))  # noqa: S307 - restricted code

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        clash = set(self.globals) & set(context)
        if clash:
            raise ValueError(f"流程数据中的变量名与内置函数冲突：{sorted(clash)}")
        code = compile_script(script, self.budgeted)
        namespace = self._namespace(context, external_context)
        with self._running():
            exec(code, namespace)  # noqa: S102 - restricted code
        reserved = set(self.globals) | set(external_context or {})
        for key in list(context):
            if key not in namespace and not key.startswith("_"):
                del context[key]
        for key, value in namespace.items():
            if key in reserved or key.startswith("_") or callable(value) or isinstance(value, ModuleType):
                continue
            context[key] = value
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("服务任务未启用")


class SandboxScriptEngine(PythonScriptEngine):
    """A script engine whose syntax check is the sandbox compile."""

    def __init__(self, helpers: Mapping[str, Any] | None = None, budgeted: bool = True):
        super().__init__(environment=RestrictedEnvironment(helpers, budgeted))

    def validate(self, expression: str) -> None:
        # SpiffWorkflow's DMN engine tells `"a"` from `> 5` by catching SyntaxError: SandboxError is one.
        compile_expression(expression)


def expression_errors(source: str) -> list[str]:
    """Return the sandbox's complaints about an expression (empty when it compiles)."""
    try:
        compile_expression(source)
    except SandboxError as err:
        return err.errors
    return []


def script_errors(source: str) -> list[str]:
    """Return the sandbox's complaints about a script (empty when it compiles)."""
    try:
        compile_script(source)
    except SandboxError as err:
        return err.errors
    return []


_EXPRESSION_RE = re.compile(r"Error evaluating expression '(.+?)'", re.S)


def _original(err: BaseException) -> BaseException | None:
    """The first exception in `err`'s chain that SpiffWorkflow did not raise (the script's own error)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if not type(current).__module__.startswith("SpiffWorkflow"):
            return current
        current = current.__cause__ or current.__context__
    return None


def _what_went_wrong(original: BaseException | None, fallback: str) -> str:
    if isinstance(original, budget.BudgetExceeded):
        return f"超出运行预算：{original}"
    if isinstance(original, NameError):
        return f"流程数据中没有变量 {getattr(original, 'name', None) or original}"
    if isinstance(original, ZeroDivisionError):
        return "除数为零"
    if isinstance(original, KeyError):
        return f"流程数据中缺少数据项 {original.args[0]!r}" if original.args else "缺少数据项"
    if isinstance(original, TypeError):
        return "数据类型不匹配（例如文本与数字相加、对空值取下标）"
    if isinstance(original, ValueError):
        return "取值不符合要求（例如把非数字的文本当作数字）"
    if isinstance(original, AttributeError):
        return f"使用了不允许或不存在的属性 {getattr(original, 'name', '') or ''}".rstrip()
    if isinstance(original, IndexError):
        return "列表中没有这一项（下标越界）"
    if isinstance(original, SyntaxError):
        return "表达式或脚本有语法错误"
    if original is not None:
        return f"运行时错误（{type(original).__name__}）"
    if "No conditions satisfied" in fallback:
        return "所有条件都不成立，且未设置默认顺序流"
    return "流程引擎无法继续执行该环节"


def explain(err: BaseException) -> str:
    """A Chinese account of an expression or script failing at run time, for the case history."""
    found = _EXPRESSION_RE.search(str(err))
    what = _what_went_wrong(_original(err), str(err).split("\n")[0])
    return f"表达式 {found.group(1)} 无法计算：{what}" if found else what
