"""The run-time budget of BPMN expressions and scripts (运行预算).

RestrictedPython stops a script reaching the interpreter's internals, but not from spending it:
`sum(range(10**12))`, `10**10**10` or `'a'*10**10` run inside one C call that holds the
interpreter lock, so the whole web server stops answering. The sandbox's compile policy routes
every operation that can grow without bound through the guards here:

- `*`, `**`, `<<`, `+` and `%` (`checked_op`) refuse results above `MAX_LENGTH` items/characters or
  `MAX_INT_BITS` bits before computing them, and charge what they allocate to the budget;
- `range`, `pow`, `sum` and the string methods that pad, join, replace or format are replaced by
  checking versions; `while` bodies, function and lambda bodies and every iteration tick;
- each evaluation runs under a `Budget`: at most `MAX_STEPS` ticks, `MAX_ALLOCATED` items allocated
  by the checked operations, and `MAX_SECONDS` of wall time. Once spent, every further tick raises,
  so a script cannot swallow the error and go on.

The same checks run at compile time on constant operands (`static_problem`), so the obvious
payloads are refused when a designer validates or deploys, not when the first case reaches them.
"""

from __future__ import annotations

import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_SECONDS = 1.0
MAX_STEPS = 1_000_000
MAX_LENGTH = 1_000_000
MAX_ALLOCATED = 10_000_000
MAX_INT_BITS = 100_000
_CLOCK_EVERY = 256


class BudgetExceeded(Exception):  # noqa: N818 - the name says what happened, as SpiffWorkflow's do
    """An expression or script went beyond its budget; the message is for the case history."""


class Budget:
    """What one evaluation may still spend: steps, allocated items and wall time."""

    def __init__(self, seconds: float = MAX_SECONDS, steps: int = MAX_STEPS, allocated: int = MAX_ALLOCATED):
        self.deadline = time.monotonic() + seconds
        self.seconds, self.steps_left, self.allocated_left = seconds, steps, allocated
        self.spent: str | None = None

    def tick(self) -> None:
        """Count one step; raise once the steps or the time are spent (and on every tick after)."""
        if self.spent is not None:
            raise BudgetExceeded(self.spent)
        self.steps_left -= 1
        if self.steps_left < 0:
            self._spend(f"运行步数超过 {MAX_STEPS:,} 步，可能存在死循环")
        if self.steps_left % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            self._spend(f"运行时间超过 {self.seconds:g} 秒，可能存在死循环或计算量过大")

    def allocate(self, items: int) -> None:
        """Charge `items` newly built items/characters; raise when the allocation budget is spent."""
        self.allocated_left -= items
        if self.allocated_left < 0:
            self._spend(f"累计生成的数据超过 {MAX_ALLOCATED:,} 项，计算量过大")

    def _spend(self, message: str) -> None:
        self.spent = message
        raise BudgetExceeded(message)


_local = threading.local()


def current() -> Budget | None:
    """The budget of the evaluation running on this thread, if any."""
    return getattr(_local, "budget", None)


@contextmanager
def running(seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """Run the enclosed evaluation under a fresh budget (a nested evaluation shares the outer one)."""
    outer = current()
    if outer is not None:
        yield outer
        return
    budget = _local.budget = Budget(seconds)
    try:
        yield budget
    finally:
        _local.budget = None


def tick(value: Any = None) -> Any:
    """The `_tick_` guard: one step of the current budget (a no-op outside an evaluation)."""
    budget = current()
    if budget is not None:
        budget.tick()
    return value


def _allocate(items: int) -> None:
    budget = current()
    if budget is not None:
        budget.allocate(items)


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """The `_getiter_` guard: iterate `iterable`, one tick per item."""
    for item in iterable:
        tick()
        yield item


# -- operators ----------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


def _too_long(length: int) -> str | None:
    return f"结果长度 {length:,} 超过上限 {MAX_LENGTH:,}" if length > MAX_LENGTH else None


def _too_big(bits: int) -> str | None:
    return f"整数过大（约 {bits:,} 位二进制，上限 {MAX_INT_BITS:,} 位）" if bits > MAX_INT_BITS else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _repeat_problem(left: Any, right: Any) -> str | None:
    sequence, times = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
    if isinstance(sequence, _SEQUENCES) and _is_int(times):
        return _too_long(len(sequence) * max(times, 0))
    if _is_int(left) and _is_int(right):
        return _too_big(abs(left).bit_length() + abs(right).bit_length())
    return None


def _power_problem(base: Any, exponent: Any) -> str | None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        return _too_big(exponent * abs(base).bit_length())
    return None


def _shift_problem(value: Any, shift: Any) -> str | None:
    if _is_int(value) and _is_int(shift) and value != 0:
        return _too_big(abs(value).bit_length() + max(shift, 0))
    return None


def _concat_problem(left: Any, right: Any) -> str | None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        return _too_long(len(left) + len(right))
    return None


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _percent_problem(template: Any, _args: Any) -> str | None:
    if not isinstance(template, str | bytes):
        return None
    text = template if isinstance(template, str) else template.decode("latin-1")
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                return "格式化宽度不能由参数给出（%*）"
            if number and int(number) > MAX_LENGTH:
                return _too_long(int(number))
    return None


_CHECKS: dict[str, tuple[Callable[[Any, Any], str | None], Callable[[Any, Any], Any]]] = {
    "*": (_repeat_problem, lambda a, b: a * b),
    "**": (_power_problem, lambda a, b: a ** b),
    "<<": (_shift_problem, lambda a, b: a << b),
    "+": (_concat_problem, lambda a, b: a + b),
    "%": (_percent_problem, lambda a, b: a % b),
}
GUARDED_OPERATORS = frozenset(_CHECKS)


def checked_op(op: str, left: Any, right: Any) -> Any:
    """The `_op_` guard: compute `left op right` unless its result would be too large."""
    problem, compute = _CHECKS[op]
    found = problem(left, right)
    if found:
        raise BudgetExceeded(f"运算 {op} {found}")
    result = compute(left, right)
    if isinstance(result, _SEQUENCES) and op in ("*", "+"):
        _allocate(len(result))
    return result


# -- builtins -----------------------------------------------------------------------------------


def checked_range(*args: int) -> range:
    """`range`, refused beyond MAX_LENGTH items (C code would iterate it without a tick)."""
    result = range(*args)
    if len(result) > MAX_LENGTH:
        raise BudgetExceeded(f"range 的长度 {len(result):,} 超过上限 {MAX_LENGTH:,}")
    return result


def checked_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    """`pow`: the modular form is cheap; the two-argument form is checked like `**`."""
    if modulo is not None:
        return pow(base, exponent, modulo)
    return checked_op("**", base, exponent)


def checked_sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    """`sum` of numbers only (summing lists copies them quadratically inside one C call)."""
    if not isinstance(start, int | float | complex):
        raise TypeError("sum 只能对数字求和")
    return sum(iterable, start)


# -- string and list methods --------------------------------------------------------------------


def _width_problem(width: Any) -> str | None:
    return _too_long(width) if _is_int(width) else None


def _format_problem(template: str) -> str | None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None  # str.format reports the malformed template itself
    for _text, _field, spec, _conversion in parsed:
        if spec and "{" in spec:
            return "格式化宽度不能由参数给出"
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_LENGTH:
                return _too_long(int(number))
    return None


def _replace_problem(text: Any, old: Any, new: Any, count: int = -1) -> str | None:
    if isinstance(text, str | bytes) and isinstance(old, str | bytes) and isinstance(new, str | bytes):
        hits = (text.count(old) if old else len(text) + 1)  # type: ignore[arg-type]
        hits = hits if count < 0 else min(hits, count)
        return _too_long(len(text) + hits * max(len(new) - len(old), 0))
    return None


def _joined(separator: Any, parts: Iterable[Any]) -> tuple[list[Any], str | None]:
    items = list(counted(parts))
    total = sum(len(p) for p in items if isinstance(p, str | bytes)) + len(separator) * max(len(items) - 1, 0)
    return items, _too_long(total)


def _method_check(name: str, owner: Any, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], str | None]:
    """Check a guarded method call; return the (possibly materialised) args and the problem."""
    if name in ("ljust", "rjust", "center", "zfill"):
        return args, _width_problem(args[0] if args else kwargs.get("width"))
    if name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        return args, _too_long(owner.count("\t") * size) if _is_int(size) else None
    if name == "replace" and len(args) >= 2:
        return args, _replace_problem(owner, *args[:3])
    if name == "join" and args:
        items, problem = _joined(owner, args[0])
        return (items, *args[1:]), problem
    if name in ("format", "format_map"):
        return args, _format_problem(owner)
    if name == "extend" and args:
        items = list(counted(args[0]))
        return (items,), _too_long(len(owner) + len(items))
    return args, None


GUARDED_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "format",
                             "format_map", "extend"})
_METHOD_OWNERS = (str, bytes, list)


def guarded_method(owner: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a string or list method that can build an unbounded result in the budget's checks."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        args, problem = _method_check(name, owner, args, kwargs)
        if problem:
            raise BudgetExceeded(f"{name}() {problem}")
        result = method(*args, **kwargs)
        if isinstance(result, _SEQUENCES):
            _allocate(len(result))
        return result

    return checked


def needs_guard(owner: Any, name: str) -> bool:
    """True when `owner.name` is a method `guarded_method` must wrap."""
    return name in GUARDED_METHODS and isinstance(owner, _METHOD_OWNERS)


def unguardable(owner: Any, name: str) -> bool:
    """True for `str.ljust` and the like reached through the type, where the instance is an argument."""
    return name in GUARDED_METHODS and owner in _METHOD_OWNERS
