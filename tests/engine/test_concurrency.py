"""Racing completions: exactly one wins per task, the rest get a conflict, nothing is lost or doubled."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from engine.cases.runtime import CaseEngine
from engine.errors import TaskConflict

THREADS = 8


def race(attempts: list[Any]) -> list[tuple[str, str]]:
    """Run the callables at once (released by a barrier); return (label, outcome) pairs."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def run(label: str, attempt: Any) -> None:
        barrier.wait()
        try:
            attempt()
            outcome = "won"
        except TaskConflict:
            outcome = "conflict"
        except Exception as err:  # noqa: BLE001 - any other failure is a test failure, reported below
            outcome = f"error: {type(err).__name__}: {err}"
        with lock:
            outcomes.append((label, outcome))

    threads = [threading.Thread(target=run, args=item) for item in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def test_many_threads_complete_the_same_task_once(start_case: Any, clean_db: str) -> None:
    """Eight users (each with their own engine, as separate processes would be) race on one triage task."""
    case = start_case()
    [triage] = case.open_tasks()
    engines = [CaseEngine.for_url(clean_db) for _ in range(THREADS)]
    data = {"decision": "eligible", "departments": ["minzheng", "yibao", "canlian"]}
    outcomes = race([(f"user{i}", lambda e=e, i=i: e.complete_task(triage["id"], f"user{i}", data))
                     for i, e in enumerate(engines)])
    counts = Counter(outcome for _, outcome in outcomes)
    assert counts == {"won": 1, "conflict": THREADS - 1}, outcomes
    assert len(case.events("task_completed")) == 1
    assert [t["form_key"] for t in case.open_tasks()] == ["joint_plan"]
    case.check_store()


def test_parallel_department_tasks_race_without_loss(start_case: Any, clean_db: str) -> None:
    """Threads race over the three parallel department tasks in random order; each completes exactly once."""
    case = start_case()
    departments = ["minzheng", "yibao", "canlian"]
    case.complete("triage", {"decision": "eligible", "departments": departments})
    case.complete("joint_plan", {"departments": departments, "plan": "三部门联动"})
    accepts = [t["id"] for t in case.open_tasks("dept_accept")]
    data = {"materials": ["身份证"], "location": "窗口", "field_work": "none"}
    engines = [CaseEngine.for_url(clean_db) for _ in range(THREADS)]

    def attempt_all(engine: CaseEngine, order: list[str], user: str) -> None:
        for task_id in order:
            try:
                engine.complete_task(task_id, user, data)
            except TaskConflict:
                continue

    attempts = [(f"user{i}", lambda e=e, i=i: attempt_all(e, random.sample(accepts, len(accepts)), f"user{i}"))
                for i, e in enumerate(engines)]
    outcomes = race(attempts)
    assert all(outcome == "won" for _, outcome in outcomes), outcomes
    completed = [e["task_id"] for e in case.events("task_completed") if e["task_id"] in accepts]
    assert sorted(completed) == sorted(accepts)
    assert len(case.open_tasks("dept_result")) == 3
    assert len(case.events("notice")) == 2 + 3  # received, dispatched, then one acceptance notice each
    case.check_store()
