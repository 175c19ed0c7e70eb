"""Tests for engine.bpmn.sandbox: an escape corpus, what scripts may still do, and SpiffWorkflow end to end.

Every escape attempt is written so that its success is observable: it evaluates to (or appends to
`box`) a module, function, frame, class, internal dict or the sentinel file's secret, or it writes,
removes or changes something the test checks afterwards. The same corpus is also run WITHOUT the
sandbox to prove that the oracle notices a working escape, i.e. that the sandbox tests can fail.
"""

from __future__ import annotations

import builtins
import operator
import os.path
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.sandbox import (
    SAFE_BUILTINS,
    SAFE_HELPERS,
    RestrictedEnvironment,
    SandboxError,
    SandboxScriptEngine,
    compile_expression,
    compile_script,
    expression_errors,
    script_errors,
)

SECRET = "county-relief-secret-7f3a"
EXPR = "expr"
SCRIPT = "script"

# ---------------------------------------------------------------------------------------------
# Escape corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One escape attempt: an expression (its value is the loot) or a script (loot goes into `box`)."""

    name: str
    kind: str
    source: str
    # False only where the payload cannot work even in plain Python (documented per entry).
    baseline: bool = True


def _e(name: str, source: str, baseline: bool = True) -> Attempt:
    """An expression attempt."""
    return Attempt(name, EXPR, source, baseline)


def _s(name: str, source: str, baseline: bool = True) -> Attempt:
    """A script attempt."""
    return Attempt(name, SCRIPT, source, baseline)


CORPUS: list[Attempt] = [
    # --- classic introspection chains -----------------------------------------------------------
    _e("tuple-subclasses", "().__class__.__base__.__subclasses__()"),
    _e("list-mro", "[].__class__.__mro__"),
    _e("object-subclasses", "object.__subclasses__()"),
    _e("reduce-ex", "().__reduce_ex__(2)"),
    _e("mro-call-runtime", "int.mro()"),
    _e("mro-call-via-class", "().__class__.mro()"),
    _s("subclasses-through-dict-items",
       "for key, value in items.items():\n    box.append(value.__class__.__base__.__subclasses__())"),
    _e("walrus-in-comprehension", "[(leak := base) for base in ().__class__.__bases__]"),
    # --- introspection builtins -----------------------------------------------------------------
    _e("type-builtin", "type(1)"),
    _e("getattr-class", "getattr((), '__class__')"),
    _e("getattr-concatenated-name", "getattr((), '__cla' + 'ss__')"),
    _e("vars-call", "vars()"),
    _e("vars-of-helper", "vars(datetime)"),
    _e("globals-call", "globals()"),
    _e("locals-call", "locals()"),
    _e("dir-call", "dir()"),
    # --- imports and dangerous builtins ---------------------------------------------------------
    _e("dunder-import", "__import__('os')"),
    _s("import-statement", "import os\nbox.append(os)"),
    _s("from-import", "from os import system\nbox.append(system)"),
    _s("sys-modules", "import sys\nbox.append(sys.modules['os'])"),
    _s("operator-attrgetter", "import operator\nbox.append(operator.attrgetter('__class__')(()))"),
    _e("open-read", "open(@SENTINEL@).read()"),
    _s("open-write", "open(@PWNED@, 'w').write('pwned')"),
    _s("with-open", "with open(@SENTINEL@) as fh:\n    box.append(fh.read())"),
    _e("eval-call", "eval(\"__import__('os')\")"),
    _s("exec-call", "exec(\"import os; box.append(os)\")"),
    _e("compile-call", "compile('1', '<probe>', 'eval')"),
    _e("breakpoint-ref", "breakpoint"),
    _e("help-ref", "help"),
    _e("input-ref", "input"),
    _e("loader", "__loader__"),
    _e("spec", "__spec__"),
    # --- frames, code and tracebacks ------------------------------------------------------------
    _s("generator-frame-f-back",
       "def probe():\n    yield gen.gi_frame.f_back.f_globals\ngen = probe()\nbox.append(next(gen))"),
    _e("generator-code", "(x for x in [1]).gi_code"),
    _s("coroutine-frame", "async def probe():\n    pass\nco = probe()\nbox.append(co.cr_frame)\nco.close()"),
    _s("traceback-frame",
       "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n"
       "    box.append(err.__traceback__.tb_frame.f_globals)"),
    _s("exception-traceback",
       "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    box.append(err.__traceback__)"),
    _s("except-star-traceback",
       "try:\n    raise ValueError('x')\nexcept* ValueError as group:\n"
       "    box.append(group.exceptions[0].__traceback__)"),
    _s("attribute-error-obj",
       "try:\n    pathutil.no_such_name\nexcept AttributeError as err:\n"
       "    box.append(err.obj)\n    box.append(err.obj.os)"),
    _s("match-class-pattern", "match 1:\n    case int(__class__=cls):\n        box.append(cls)"),
    # --- str.format and friends -----------------------------------------------------------------
    _e("str-format", "'{0.__class__}'.format(1)"),
    _e("str-format-unbound", "str.format('{0.__class__}', 1)"),
    _e("str-format-map", "'{x.__class__}'.format_map({'x': 1})"),
    _e("str-format-fullwidth", "'{0.__class__}'.ｆｏｒｍａｔ(1)"),
    _s("string-formatter",
       "import string\nbox.append(string.Formatter().get_field('0.__class__', [1], {}))"),
    _e("fstring-repr", "f'{().__class__.__base__.__subclasses__()!r}'"),
    _e("fstring-helper-self", "f'{datetime.now.__self__!r}'"),
    # --- functions, lambdas, classes, decorators ------------------------------------------------
    _e("lambda-default-arg", "(lambda leak=().__class__.__base__: leak)()"),
    _e("lambda-default-generator", "(lambda g=(x for x in [1]): g.gi_frame)()"),
    _s("class-definition", "class Probe:\n    pass\nbox.append(Probe)"),
    _s("decorator", "@(lambda f: f.__globals__)\ndef probe():\n    pass\nbox.append(probe)"),
    # --- builtins and helper internals ----------------------------------------------------------
    _e("builtins-dict-key", "__builtins__['open'](@SENTINEL@).read()"),
    _e("helper-class-dict", "datetime.__dict__"),
    _e("helper-function-globals", "notify.__globals__"),
    _e("builtin-self-module", "len.__self__"),
    # `notify` carries a py2-style `func_globals` alias, so this payload works unsandboxed.
    _e("helper-function-func-globals", "notify.func_globals"),
    _s("helper-module-attribute", "pathutil.os.remove(@SENTINEL@)"),
    _e("module-via-helper-class", "__import__(datetime.__module__)"),
    # --- writes ---------------------------------------------------------------------------------
    _s("setattr", "setattr(registry, 'target', 'pwned')"),
    _s("delattr", "delattr(registry, 'target')"),
    _s("attribute-write", "registry.target = 'pwned'"),
    _s("attribute-delete", "del registry.target"),
    _s("function-attribute-write", "notify.hook = 'pwned'"),
    # Plain Python refuses this too (immutable built-in type); the sandbox must still raise.
    _s("helper-class-attribute-write", "datetime.max = 1", baseline=False),
    _s("del-builtins-key", "del __builtins__['len']"),
    _s("print-to-file", "print('pwned', file=open(@PWNED@, 'w'))"),
    # `printed` only exists under RestrictedPython's print collector.
    _s("print-printed", "print(open(@SENTINEL@).read())\nbox.append(printed)", baseline=False),
    # --- unicode identifiers --------------------------------------------------------------------
    _e("nfkc-open", "ｏｐｅｎ(@SENTINEL@).read()"),
    _e("nfkc-eval", "𝐞𝐯𝐚𝐥(\"__import__('os')\")"),
    # --- the guards themselves ------------------------------------------------------------------
    _e("getattr-guard-called", "_getattr_((), '__class__')"),
    _s("getattr-guard-overwritten", "_getattr_ = lambda ob, name, *default: ob\nbox.append(().__class__)"),
    _s("write-guard-overwritten", "_write_ = lambda ob: ob\nregistry.target = 'pwned'"),
    # --- exceptions that get past `except Exception` ----------------------------------------------
    _s("raise-system-exit", "raise SystemExit(0)"),
    _s("raise-keyboard-interrupt", "raise KeyboardInterrupt"),
    _s("raise-base-exception", "raise BaseException('x')"),
    _e("generator-throw-generator-exit", "(x for x in [1]).throw(GeneratorExit)"),
]

_DATA_TYPES = frozenset({
    type(None), bool, int, float, complex, str, bytes, date, datetime, timedelta, timezone,
})
_CONTAINER_TYPES = frozenset({list, tuple, set, frozenset, dict})
_INTERNALS_TEXT = re.compile(
    r"<(?:class|module|function|built-in|frame|code|traceback|generator|coroutine|bound method)\b|__\w+__")

# Stand-ins for RestrictedPython's guards when a payload is run without the sandbox.
_UNGUARDED: dict[str, Any] = {
    "_getattr_": getattr, "_getitem_": operator.getitem, "_getiter_": iter, "_write_": lambda ob: ob,
}


class Registry:
    """A helper object with writable state, standing in for a service the host hands to scripts."""

    def __init__(self) -> None:
        self.target = "safe"


def _make_helpers() -> dict[str, Any]:
    """Fresh helpers per run: a function, an object and (carelessly) a module."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def notify(kind: str, **details: Any) -> None:
        """Record a notice."""
        sent.append((kind, details))

    notify.func_globals = notify.__globals__  # type: ignore[attr-defined]
    return {"notify": notify, "registry": Registry(), "pathutil": os.path}


def _findings(obj: Any, seen: set[int] | None = None) -> list[str]:
    """Everything in `obj` that is not plain data: modules, functions, frames, classes, secrets, reprs."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    kind = type(obj)
    if kind is str:
        return [f"leaked text {obj[:80]!r}"] if SECRET in obj or _INTERNALS_TEXT.search(obj) else []
    if kind in _DATA_TYPES:
        return []
    if kind not in _CONTAINER_TYPES:
        return [f"leaked {kind.__name__} {obj!r:.80}"]
    items = [*obj.keys(), *obj.values()] if kind is dict else list(obj)
    found: list[str] = []
    for item in items:
        found += _findings(item, seen)
        if len(found) >= 5:
            break
    return found


def _classify(run: Callable[[], Any]) -> tuple[str, Any]:
    """Run an attempt: refused at compile, raised an Exception, ran, or escaped with a BaseException."""
    try:
        result = run()
    except SandboxError:
        return "refused", None
    except Exception:
        return "raised", None
    except BaseException as err:  # SystemExit & co. are the escape being detected
        return "escaped", err
    return "ran", result


@dataclass
class Outcome:
    """What an attempt did: its status and every observable piece of damage."""

    status: str
    damage: list[str] = field(default_factory=list)


def _attempt(attempt: Attempt, tmp_path: Path, *, sandboxed: bool) -> Outcome:
    """Run one attempt with or without the sandbox and collect the damage it did."""
    sentinel, pwned = tmp_path / "sentinel.txt", tmp_path / "pwned.txt"
    sentinel.write_text(SECRET, encoding="utf-8")
    source = attempt.source.replace("@SENTINEL@", repr(str(sentinel))).replace("@PWNED@", repr(str(pwned)))
    helpers = _make_helpers()
    box: list[Any] = []
    context: dict[str, Any] = {"box": box, "items": {"k": ()}}

    if sandboxed:
        env = RestrictedEnvironment(helpers)
        env_globals = dict(env.globals)
        builtins_map: dict[str, Any] = SAFE_BUILTINS  # type: ignore[assignment]
        builtins_before = dict(builtins_map)
        if attempt.kind == EXPR:
            status, result = _classify(lambda: env.evaluate(source, context))
        else:
            status, result = _classify(lambda: env.execute(source, context))
        loot = [box, result, context]
    else:
        builtins_map = dict(vars(builtins))
        builtins_before = dict(builtins_map)
        namespace = {"__builtins__": builtins_map, **SAFE_HELPERS, **helpers, **context, **_UNGUARDED}
        if attempt.kind == EXPR:
            status, result = _classify(lambda: eval(source, namespace))  # noqa: S307 - the baseline
        else:
            status, result = _classify(lambda: exec(source, namespace))  # noqa: S102 - the baseline
        loot = [box, result]

    outcome = Outcome(status)
    if status == "escaped":
        outcome.damage.append(f"{type(result).__name__} got past `except Exception`")
    else:
        outcome.damage += _findings(loot)
    if not sentinel.exists():
        outcome.damage.append("sentinel removed")
    elif sentinel.read_text(encoding="utf-8") != SECRET:
        outcome.damage.append("sentinel changed")
    if pwned.exists():
        outcome.damage.append("file created")
    if vars(helpers["registry"]) != {"target": "safe"}:
        outcome.damage.append(f"helper object changed: {vars(helpers['registry'])}")
    if set(vars(helpers["notify"])) != {"func_globals"}:
        outcome.damage.append("helper function changed")
    if builtins_map != builtins_before:
        outcome.damage.append("builtins changed")
    if sandboxed:
        if dict(SAFE_BUILTINS) != _SAFE_BUILTINS_SNAPSHOT or dict(SAFE_HELPERS) != _SAFE_HELPERS_SNAPSHOT:
            outcome.damage.append("shared sandbox builtins/helpers changed")
        if env.globals != env_globals:
            outcome.damage.append("environment globals changed")
        if env.evaluate("len([1, 2]) + datetime(2024, 1, 2).day", {}) != 4:
            outcome.damage.append("environment broken")
    return outcome


_SAFE_BUILTINS_SNAPSHOT = dict(SAFE_BUILTINS)
_SAFE_HELPERS_SNAPSHOT = dict(SAFE_HELPERS)


def test_corpus_is_large_and_distinct() -> None:
    """The corpus holds at least 40 attempts with unique names and unique payloads."""
    assert len(CORPUS) >= 40
    assert len({a.name for a in CORPUS}) == len(CORPUS)
    assert len({(a.kind, a.source) for a in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("attempt", CORPUS, ids=[a.name for a in CORPUS])
def test_escape_attempt_is_contained(attempt: Attempt, tmp_path: Path) -> None:
    """The attempt is refused or raises, and leaks nothing, touches no file and changes no helper."""
    outcome = _attempt(attempt, tmp_path, sandboxed=True)
    assert outcome.damage == []
    assert outcome.status in {"refused", "raised"}


@pytest.mark.parametrize("attempt", [a for a in CORPUS if a.baseline],
                         ids=[a.name for a in CORPUS if a.baseline])
def test_escape_attempt_is_detected_without_sandbox(attempt: Attempt, tmp_path: Path) -> None:
    """Run as plain Python the payload does damage the oracle reports, so the sandbox test can fail."""
    outcome = _attempt(attempt, tmp_path, sandboxed=False)
    assert outcome.damage, f"payload is harmless even unsandboxed (status {outcome.status})"


@pytest.mark.parametrize("source", [
    "().__class__", "x.__dict__", "__import__('os')", "_getattr_", "(x for x in y).gi_frame",
    "eval('1')", "e.tb_frame",
])
def test_expression_errors_name_the_problem(source: str) -> None:
    """Compile refusals come back as messages and as SandboxError carrying source and errors."""
    errors = expression_errors(source)
    assert errors
    with pytest.raises(SandboxError) as info:
        compile_expression(source)
    assert info.value.source == source
    assert info.value.errors == errors


def test_script_errors_name_the_problem() -> None:
    """A refused script reports the offending line; a clean one reports nothing."""
    errors = script_errors("x = 1\ny = x.__class__\n")
    assert errors and "Line 2" in errors[0] and "__class__" in errors[0]
    with pytest.raises(SandboxError):
        compile_script("x = 1\ny = x.__class__\n")
    assert script_errors("x = 1\ny = [x]\n") == []
    assert expression_errors("x == 1") == []


def test_script_engine_validate_uses_sandbox_compile() -> None:
    """SandboxScriptEngine.validate refuses what the sandbox refuses and accepts plain conditions."""
    engine = SandboxScriptEngine()
    engine.validate("decision == 'eligible'")
    with pytest.raises(SandboxError):
        engine.validate("().__class__")


# ---------------------------------------------------------------------------------------------
# What the sandbox still allows
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def env() -> RestrictedEnvironment:
    """An environment with the corpus helpers (a function, an object and a module)."""
    return RestrictedEnvironment(_make_helpers())


@pytest.mark.parametrize(("decision", "departments", "expected"), [
    ("eligible", ["civil", "health"], True),
    ("eligible", ["civil"], False),
    ("refused", ["civil", "health", "housing"], False),
])
def test_condition_evaluates(env: RestrictedEnvironment, decision: str, departments: list[str],
                             expected: bool) -> None:
    """A typical gateway condition evaluates against task data."""
    condition = 'decision == "eligible" and len(departments) >= 2'
    assert env.evaluate(condition, {"decision": decision, "departments": departments}) is expected


def test_script_builds_data_and_updates_context(env: RestrictedEnvironment) -> None:
    """A script builds a dict and a list comprehension and its results land in the context."""
    context: dict[str, Any] = {"matters": [{"dept": "civil", "open": True}, {"dept": "health", "open": False},
                                           {"dept": "housing", "open": True}], "level": "county"}
    env.execute(
        "open_depts = [m['dept'].upper() for m in matters if m['open']]\n"
        "summary = {'count': len(open_depts), 'level': level, 'any_open': any(m['open'] for m in matters)}\n"
        "level = 'city'\n",
        context,
    )
    assert context["open_depts"] == ["CIVIL", "HOUSING"]
    assert context["summary"] == {"count": 2, "level": "county", "any_open": True}
    assert context["level"] == "city"


def test_helpers_are_callable() -> None:
    """Helpers passed to the environment, including bound methods, can be called from scripts."""

    class Calendar:
        """A service whose bound method is handed over as a helper."""

        def deadline(self, workdays: int) -> str:
            """Return a fixed ISO moment shifted by `workdays` days."""
            return (datetime(2024, 3, 1) + timedelta(days=int(workdays))).isoformat()

    sent: list[tuple[str, dict[str, Any]]] = []
    env = RestrictedEnvironment({"notify": lambda kind, **details: sent.append((kind, details)),
                                 "deadline": Calendar().deadline})
    context: dict[str, Any] = {"case_no": "C-1"}
    env.execute("notify('accepted', case=case_no)\ndue = deadline(3)\n", context)
    assert sent == [("accepted", {"case": "C-1"})]
    assert context == {"case_no": "C-1", "due": "2024-03-04T00:00:00"}
    assert env.evaluate("deadline(1)", {}) == "2024-03-02T00:00:00"


def test_datetime_arithmetic(env: RestrictedEnvironment) -> None:
    """datetime/date/timedelta/timezone helpers support the usual arithmetic and formatting."""
    context: dict[str, Any] = {"submitted": "2024-02-27T09:30:00+08:00"}
    env.execute(
        "start = datetime.fromisoformat(submitted)\n"
        "due = (start + timedelta(days=3, hours=2)).isoformat()\n"
        "days = (date(2024, 3, 10) - start.date()).days\n"
        "utc = start.astimezone(timezone.utc).time().isoformat('minutes')\n"
        "start = None\n",
        context,
    )
    assert context["due"] == "2024-03-01T11:30:00+08:00"
    assert context["days"] == 12
    assert context["utc"] == "01:30"
    assert env.evaluate("datetime(2024, 1, 5) - datetime(2024, 1, 1) == timedelta(days=4)", {}) is True
    assert env.evaluate("floor(7 / 2) + ceil(7 / 2)", {}) == 7


def test_tuple_unpacking_and_augmented_assignment(env: RestrictedEnvironment) -> None:
    """for-loop tuple unpacking (nested too), plain unpacking and += on numbers, strings and lists work."""
    context: dict[str, Any] = {"scores": {"civil": 2, "health": 3}, "pairs": [["a", [1, 2]], ["b", [3, 4]]]}
    env.execute(
        "total = 0\nnames = ''\nflat = []\n"
        "for dept, score in scores.items():\n    total += score\n    names += dept[0]\n"
        "for i, (key, (x, y)) in enumerate(pairs):\n    flat += [i, key, x * y]\n"
        "first, *rest = [10, 20, 30]\n",
        context,
    )
    assert context["total"] == 5
    assert context["names"] == "ch"
    assert context["flat"] == [0, "a", 2, 1, "b", 12]
    assert (context["first"], context["rest"]) == (10, [20, 30])


def test_del_removes_variable_from_context(env: RestrictedEnvironment) -> None:
    """Deleting a variable in a script removes it from the task data."""
    context: dict[str, Any] = {"scratch": [1, 2], "keep": "yes"}
    env.execute("del scratch\n", context)
    assert context == {"keep": "yes"}


def test_functions_are_not_written_back(env: RestrictedEnvironment) -> None:
    """Local functions and lambdas may be used but are not stored in the task data."""
    context: dict[str, Any] = {}
    env.execute("def double(x):\n    return x * 2\ntriple = lambda x: x * 3\nout = double(2) + triple(2)\n",
                context)
    assert context == {"out": 10}


@pytest.mark.parametrize("name", ["datetime", "notify", "timedelta"])
def test_variable_shadowing_a_helper_is_refused(env: RestrictedEnvironment, name: str) -> None:
    """Task data whose key would shadow a helper is refused with an error naming the key."""
    with pytest.raises(ValueError, match=name):
        env.execute("x = 1\n", {name: "2024-01-01"})


def test_script_cannot_remove_or_replace_a_helper(env: RestrictedEnvironment) -> None:
    """`del datetime` or rebinding a helper in a script leaves it intact for task data and later runs."""
    context: dict[str, Any] = {}
    env.execute("del datetime\ntimedelta = 5\n", context)
    assert context == {}
    assert env.evaluate("datetime(2024, 1, 1) + timedelta(days=1)", {}) == datetime(2024, 1, 2)


def test_script_exceptions_are_ordinary_exceptions(env: RestrictedEnvironment) -> None:
    """A script may raise and catch ordinary exceptions; they reach the caller as themselves."""
    context: dict[str, Any] = {}
    env.execute("try:\n    int('x')\nexcept ValueError:\n    ok = True\n", context)
    assert context == {"ok": True}
    with pytest.raises(ValueError, match="bad data"):
        env.execute("raise ValueError('bad data')\n", {})


# ---------------------------------------------------------------------------------------------
# End to end through SpiffWorkflow
# ---------------------------------------------------------------------------------------------

SAFE_SCRIPT = (
    "departments = ['civil', 'health']\n"
    "decision = 'eligible' if len(departments) >= 2 else 'refer'\n"
    "due = (datetime(2024, 3, 1) + timedelta(days=5)).date().isoformat()\n"
)
SAFE_CONDITION = 'decision == "eligible" and len(departments) >= 2'

BPMN_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="sandbox_defs" targetNamespace="http://example.org/relief/sandbox">
  <bpmn:process id="sandbox_probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to_script</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="assess" name="assess" scriptFormat="python">
      <bpmn:incoming>to_script</bpmn:incoming>
      <bpmn:outgoing>to_gateway</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="route" default="to_manual">
      <bpmn:incoming>to_gateway</bpmn:incoming>
      <bpmn:outgoing>to_auto</bpmn:outgoing>
      <bpmn:outgoing>to_manual</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="auto_end" name="auto_end"><bpmn:incoming>to_auto</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="manual_end" name="manual_end"><bpmn:incoming>to_manual</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_script" sourceRef="start" targetRef="assess"/>
    <bpmn:sequenceFlow id="to_gateway" sourceRef="assess" targetRef="route"/>
    <bpmn:sequenceFlow id="to_auto" sourceRef="route" targetRef="auto_end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_manual" sourceRef="route" targetRef="manual_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(script: str, condition: str, engine: PythonScriptEngine) -> BpmnWorkflow:
    """Parse the inline BPMN with the given script and condition and start it on `engine`."""
    xml = BPMN_TEMPLATE.format(script=escape(script), condition=escape(condition))
    parser = BpmnParser()
    parser.add_bpmn_str(xml.encode("utf-8"), "sandbox_probe.bpmn")
    return BpmnWorkflow(parser.get_spec("sandbox_probe"), script_engine=engine)


def _all_data(workflow: BpmnWorkflow) -> list[dict[str, Any]]:
    """Task data of every task plus the workflow data."""
    return [dict(task.data) for task in workflow.get_tasks()] + [dict(workflow.data)]


def _paths(tmp_path: Path) -> tuple[Path, str]:
    """Create the sentinel file and return it with its repr for embedding in code."""
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text(SECRET, encoding="utf-8")
    return sentinel, repr(str(sentinel))


def test_workflow_with_safe_script_completes() -> None:
    """The safe script runs in the sandbox and the gateway condition picks the automatic branch."""
    workflow = _workflow(SAFE_SCRIPT, SAFE_CONDITION, SandboxScriptEngine())
    workflow.do_engine_steps()
    assert workflow.is_completed()
    completed = {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "auto_end" in completed and "manual_end" not in completed
    assert workflow.data["decision"] == "eligible"
    assert workflow.data["due"] == "2024-03-06"


ESCAPING_SCRIPTS = {
    "compile-refused": "leak = ().__class__.__base__.__subclasses__()\n",
    "open-sentinel": "leak = open(@SENTINEL@).read()\n",
    "import-os": "import os\nos.remove(@SENTINEL@)\nleak = 'removed'\n",
    "str-format": "leak = '{0.__class__}'.format(1)\n",
    "system-exit": "raise SystemExit(0)\n",
}
ESCAPING_CONDITIONS = {
    "compile-refused": "().__class__.__base__.__subclasses__() != []",
    "open-sentinel": "open(@SENTINEL@).read() != ''",
    "str-format-map": "'{x.__class__}'.format_map({'x': 1}) != ''",
}


@pytest.mark.parametrize("name", list(ESCAPING_SCRIPTS))
def test_workflow_escaping_script_raises(name: str, tmp_path: Path) -> None:
    """A script task that tries to escape fails as WorkflowTaskException and leaks nothing."""
    sentinel, sentinel_repr = _paths(tmp_path)
    script = ESCAPING_SCRIPTS[name].replace("@SENTINEL@", sentinel_repr)
    workflow = _workflow(script, SAFE_CONDITION, SandboxScriptEngine())
    with pytest.raises(WorkflowTaskException):
        workflow.do_engine_steps()
    assert not workflow.is_completed()
    assert sentinel.read_text(encoding="utf-8") == SECRET
    assert all("leak" not in data for data in _all_data(workflow))


@pytest.mark.parametrize("name", list(ESCAPING_CONDITIONS))
def test_workflow_escaping_condition_raises(name: str, tmp_path: Path) -> None:
    """An exclusive gateway whose condition tries to escape fails as WorkflowTaskException."""
    sentinel, sentinel_repr = _paths(tmp_path)
    condition = ESCAPING_CONDITIONS[name].replace("@SENTINEL@", sentinel_repr)
    workflow = _workflow(SAFE_SCRIPT, condition, SandboxScriptEngine())
    with pytest.raises(WorkflowTaskException):
        workflow.do_engine_steps()
    assert not workflow.is_completed()
    assert sentinel.read_text(encoding="utf-8") == SECRET


def test_workflow_escape_works_on_default_engine(tmp_path: Path) -> None:
    """Control: on SpiffWorkflow's default engine the same script and condition do read the sentinel."""
    _, sentinel_repr = _paths(tmp_path)
    script = ESCAPING_SCRIPTS["open-sentinel"].replace("@SENTINEL@", sentinel_repr)
    condition = ESCAPING_CONDITIONS["open-sentinel"].replace("@SENTINEL@", sentinel_repr)
    workflow = _workflow(script, condition, PythonScriptEngine())
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert any(data.get("leak") == SECRET for data in _all_data(workflow))
