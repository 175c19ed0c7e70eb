"""The run-time budget of expressions and scripts (engine.bpmn.budget): each payload of issue 10 is
refused when its operands are constants, ends within two seconds with a Chinese error when they come
from the case data, puts a running case in error, and legitimate scripts still run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.bpmn import budget
from engine.bpmn.sandbox import RestrictedEnvironment, explain, expression_errors, script_errors
from tests.support.bpmn import SHIPPED, edit

# (name, the payload with constants, the same payload with its sizes taken from the case data)
PAYLOADS = [
    ("huge-range-sum", "x = sum(range(10**12))", "x = sum(range(n12))"),
    ("tower-power", "x = 10**10**10", "x = 10**n10"),
    ("builtin-pow", "x = pow(7, 10**9)", "x = pow(7, n9)"),
    ("string-repeat", "x = 'a'*10**10", "x = 'a'*n10"),
    ("list-repeat", "x = [0]*10**9", "x = [0]*n9"),
    ("nested-allocation", "x = [[0]*10**4 for i in range(10**5)]", "x = [[0]*n4 for i in range(n5)]"),
    ("endless-while", "while True:\n    pass", "while n4:\n    pass"),
]
SIZES = {"n12": 10**12, "n10": 10**10, "n9": 10**9, "n5": 10**5, "n4": 10**4}
# Payloads the compile step cannot see through (nested sizes) are only stopped at run time.
RUNTIME_ONLY = {"nested-allocation"}


@pytest.mark.parametrize(("name", "constant", "_dynamic"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_constant_payloads_are_refused_at_compile(name: str, constant: str, _dynamic: str) -> None:
    """R-6.4.3: the obvious payloads never reach a case: validation names what is too large."""
    errors = script_errors(constant)
    if name in RUNTIME_ONLY:
        assert errors == []
        return
    assert errors, f"{name} compiled"
    assert any(word in errors[0] for word in ("计算量过大", "无限循环")), errors


@pytest.mark.parametrize(("name", "_constant", "dynamic"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_data_driven_payloads_end_within_two_seconds(name: str, _constant: str, dynamic: str) -> None:
    """Sizes from the case data pass the compile step; the run stops within 2 s with a Chinese reason."""
    assert script_errors(dynamic) == []
    started = time.monotonic()
    with pytest.raises(budget.BudgetExceeded) as raised:
        RestrictedEnvironment().execute(dynamic, dict(SIZES))
    assert time.monotonic() - started < 2.0, name
    assert any(word in str(raised.value) for word in ("超过上限", "超过", "过大")), str(raised.value)
    assert explain(raised.value).startswith("超出运行预算：")


def test_a_spent_budget_cannot_be_swallowed() -> None:
    """Once spent, every further tick raises: catching the error inside the loop does not go on."""
    script = "while n4:\n    try:\n        y = [0]*10\n    except Exception:\n        pass"
    started = time.monotonic()
    with pytest.raises(budget.BudgetExceeded):
        RestrictedEnvironment().execute(script, dict(SIZES))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("source", [
    "x = ' '.ljust(n10)", "x = 'ab'.replace('a', 'a'*1000).replace('a', 'a'*1000*1000)",
    "x = ''.join(['x'*10**6]*10**6)", "x = '%*d' % (n9, 1)", "x = 1 << n10",
    "s = 'a'\nfor i in range(60):\n    s = s + s", "s = [0]\nfor i in range(60):\n    s *= 2",
    "x = [i for i in range(n5) for j in range(n5)]", "x = str.ljust('a', n9)",
    "x = sum([[0]*1000]*1000, [])",
])
def test_the_other_unbounded_operations_are_checked(source: str) -> None:
    """Padding, replacing, joining, %-formatting, shifts, doubling, nested loops and sum of lists."""
    started = time.monotonic()
    with pytest.raises((budget.BudgetExceeded, AttributeError, TypeError)):
        RestrictedEnvironment().execute(source, dict(SIZES))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(("source", "words"), [
    ("f'{x:1000000000}'", "格式化宽度"), ("f'{x:{n9}}'", "格式化宽度"), ("'%1000000000d' % 1", "计算量过大"),
    ("range(10**7)", "range 的长度"), ("1 << 10**6", "整数过大"),
])
def test_constant_expressions_are_refused_with_the_reason(source: str, words: str) -> None:
    assert any(words in e for e in expression_errors(source)), expression_errors(source)


def test_ordinary_scripts_and_conditions_still_work() -> None:
    """What BPMN scripts do every day is untouched: arithmetic, strings, loops, comprehensions, sums."""
    env = RestrictedEnvironment()
    context: dict[str, Any] = {"amounts": [100, 250.5, 30], "name": "张三"}
    env.execute("total = sum(amounts)\nlabel = name + '的申请'\nsquares = [a * 2 for a in range(5)]\n"
                "n = 0\nwhile n < 10:\n    n += 1\nline = '-' * 20\nbig = 2 ** 64\nmsg = '%s：%d 元' % (name, 380)",
                context)
    assert context["total"] == 380.5
    assert context["label"] == "张三的申请"
    assert context["squares"] == [0, 2, 4, 6, 8]
    assert (context["n"], context["line"], context["big"]) == (10, "-" * 20, 2**64)
    assert context["msg"] == "张三：380 元"
    assert env.evaluate("total > 300 and len(label) == 5", context) is True


def test_each_evaluation_gets_a_fresh_budget() -> None:
    """A spent budget belongs to its evaluation: the next condition runs normally."""
    env = RestrictedEnvironment()
    with pytest.raises(budget.BudgetExceeded):
        env.execute("while n4:\n    pass", dict(SIZES))
    assert env.evaluate("1 + 1", {}) == 2


def test_a_case_whose_condition_exceeds_the_budget_stops_in_error(case_engine: Any, start_case: Any) -> None:
    """At run time the budget error puts the case in `error` with the reason in Chinese (R-5.2)."""
    condition = 'sum(range(10**12 if decision else 0)) &gt;= 0 and decision == "ineligible"</bpmn:conditionExpression>'
    xml = edit(SHIPPED, 'decision == "ineligible"</bpmn:conditionExpression>', condition)
    case_engine.deploy(xml, "relief_linkage.bpmn", "designer1", "预算测试", despite_samples=True,
                       reason="测试运行预算")
    case = start_case()
    started = time.monotonic()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    assert time.monotonic() - started < 2.0
    assert case.show()["status"] == "error"
    [error] = case.events("task_error")
    assert "超出运行预算" in error["data"]["message"]
    assert "range 的长度" in error["data"]["message"]
