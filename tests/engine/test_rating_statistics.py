"""好差评 statistics (R-6.3.6) over a fixture of 50 ratings equal the counts worked out by hand from the
fixture's own table: per window, clerk, month and matter; 满意率, 差评, 回访率, 整改按期率; scoped per user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine import clock
from engine.errors import Forbidden, InvalidData
from engine.settings import PROJECT_ROOT
from tests.support.cases import open_task

RECTIFICATION_BPMN = PROJECT_ROOT / "processes" / "feedback_rectification.bpmn"
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
SATISFIED, POOR = set(LEVELS[:3]), set(LEVELS[3:])
# What happens to a 差评's rectification, in turn: nothing yet; 回访 only; 回访, 核实, 整改 on time;
# 回访, 核实, 整改 after its due time; 回访 and 核实, 整改 still open past its due time.
FATES = ("none", "called", "on_time", "late", "open")


def fixture_table() -> list[dict[str, Any]]:
    """50 visits: who registered them, which month, which matter, the level, the fate of a 差评."""
    rows, poor = [], 0
    for n in range(50):
        level = LEVELS[(n * 3) % 5]
        row = {"clerk": "clerk_v" if n % 5 < 3 else "clerk_c", "old": n % 4 == 0,
               "matter": ("dibao", "linshi", "yiliao")[n % 3], "level": level, "fate": None}
        if level in POOR:
            row["fate"] = FATES[poor % len(FATES)]
            poor += 1
        rows.append(row)
    return rows


@pytest.fixture
def rated(case_engine: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The 50 ratings given through the engine, their rectifications worked as the table says."""
    engine = case_engine
    engine.deploy(RECTIFICATION_BPMN.read_bytes(), RECTIFICATION_BPMN.name, "test")
    now = clock.now()
    table = fixture_table()
    groups = {"clerk_v": ("T01V01", "village1"), "clerk_c": ("center", "center1")}
    for row in table:
        when = now - timedelta(days=40) if row["old"] else now
        with clock.frozen_at(when):
            who = engine.accounts.principal_named(row["clerk"])
            visit = engine.consultations.register(who, {
                "name": "来访人", "question": "咨询", "matters": [row["matter"]],
                "region": {"township": "T01", "village": "T01V01"}})
            done = engine.ratings.rate_visit(visit, row["level"], actor="device:1")
        row["month"] = clock.local_text(when, "%Y-%m")
        loop = done["rectification_case_no"]
        worker = groups[row["clerk"]][1]
        if row["fate"] in (None, "none"):
            continue
        with clock.frozen_at(when):
            engine.complete_task(open_task(engine, loop, "feedback_callback"), worker,
                                 {"callback_result": "reached", "callback_note": "已回访"})
        if row["fate"] == "called":
            continue
        with clock.frozen_at(when):
            engine.complete_task(open_task(engine, loop, "feedback_verify"), worker,
                                 {"finding": "founded", "facts": "属实"})
        if row["fate"] == "open":
            continue
        late = when + timedelta(days=60) if row["fate"] == "late" else when + timedelta(hours=1)
        with clock.frozen_at(late):
            engine.complete_task(open_task(engine, loop, "feedback_rectify"), worker, {"measures": "已整改"})
    return engine, table


def by_hand(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a group of the table, counted the plain way."""
    total = len(rows)
    poor = [r for r in rows if r["level"] in POOR]
    called = [r for r in poor if r["fate"] in ("called", "on_time", "late", "open")]
    due = [r for r in poor if r["fate"] in ("on_time", "late", "open")]  # open counts: its due time has passed
    on_time = [r for r in poor if r["fate"] == "on_time"]
    return {"total": total, "levels": {lv: n for lv in LEVELS if (n := sum(r["level"] == lv for r in rows))},
            "satisfied_rate": round(sum(r["level"] in SATISFIED for r in rows) / total, 4) if total else None,
            "poor": len(poor), "callback_rate": round(len(called) / len(poor), 4) if poor else None,
            "on_time_rate": round(len(on_time) / len(due), 4) if due else None, "follow_ups": 0}


FIGURES = ("total", "levels", "satisfied_rate", "poor", "callback_rate", "on_time_rate", "follow_ups")


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in FIGURES}


def test_every_dimension_equals_the_hand_count(rated: tuple[Any, list[dict[str, Any]]]) -> None:
    engine, table = rated
    keys = {"window": lambda r: "T01V01" if r["clerk"] == "clerk_v" else "center", "clerk": lambda r: r["clerk"],
            "month": lambda r: r["month"], "matter": lambda r: r["matter"]}
    with clock.frozen_at(clock.now() + timedelta(days=60)):  # every 整改 is past its due time now
        for by, key in keys.items():
            got = engine.ratings.statistics(None, by)
            expected = {k: by_hand([r for r in table if key(r) == k]) for k in {key(r) for r in table}}
            assert {row["key"]: figures(row) for row in got["rows"]} == expected, by
            assert figures(got["total"]) == by_hand(table)
    assert by_hand(table)["poor"] == 20 and by_hand(table)["callback_rate"] == 0.8  # the fixture is what it says


def test_a_period_counts_only_its_months(rated: tuple[Any, list[dict[str, Any]]]) -> None:
    engine, table = rated
    this_month = clock.local_text(clock.now(), "%Y-%m")
    got = engine.ratings.statistics(None, "month", since=this_month, until=this_month)
    assert [row["key"] for row in got["rows"]] == [this_month]
    assert got["total"]["total"] == sum(1 for r in table if r["month"] == this_month)


def test_each_user_counts_only_their_scope(rated: tuple[Any, list[dict[str, Any]]]) -> None:
    """A village clerk counts their window's ratings, the center all of them; a designer may not look."""
    engine, table = rated
    accounts = engine.accounts
    village = engine.ratings.statistics(accounts.principal_named("clerk_v"), "window")
    assert [row["key"] for row in village["rows"]] == ["T01V01"]
    assert village["total"]["total"] == sum(r["clerk"] == "clerk_v" for r in table)
    assert engine.ratings.statistics(accounts.principal_named("center1"), "window")["total"]["total"] == 50
    assert engine.ratings.statistics(accounts.principal_named("mz1"), "window")["rows"] == []  # no case of its
    with pytest.raises(Forbidden):
        engine.ratings.statistics(accounts.principal_named("designer1"), "window")
    with pytest.raises(InvalidData) as bad:
        engine.ratings.statistics(None, "weekday", since="2026-13")
    assert set(bad.value.errors) == {"by", "since"}
