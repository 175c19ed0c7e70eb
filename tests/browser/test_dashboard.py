"""The dashboard in a real browser (数据看板, R-6.4.1): on seeded cases its tables show what SQL over the base
tables counts, a department user sees only the cases dispatched to it, and a bar opens the filtered case list."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from engine.tables import APPLICATION, INSTANCE, TASK, TASK_GROUP
from tests.support.browser import Step, visit
from tests.support.cases import closed_case, dispatch, start
from tests.support.db import engine_for, tx

pytestmark = pytest.mark.browser


def _seed(demo_db: str) -> None:
    engine = engine_for(demo_db)
    closed_case(engine, departments=("minzheng",), matters=("linshi",))
    closed_case(engine, departments=("minzheng", "yibao"), matters=("linshi", "yiliao"))
    start(engine, township="T02", village=None, level="township", matters=["dibao"])
    dispatch(engine, start(engine, township="T02", village="T02V01", matters=["yiliao"]), "yibao")


def _sql_by_township(demo_db: str, department: str | None = None) -> dict[str, int]:
    """Cases per township, counted over application ⋈ process_instance (and a department's tasks)."""
    query = select(APPLICATION.c.township, func.count(func.distinct(APPLICATION.c.case_no))).select_from(
        APPLICATION.join(INSTANCE, INSTANCE.c.case_no == APPLICATION.c.case_no))
    if department:
        query = query.join(TASK, TASK.c.case_no == APPLICATION.c.case_no).join(
            TASK_GROUP, TASK_GROUP.c.task_id == TASK.c.id).where(TASK_GROUP.c.group_code == department)
    with tx(demo_db) as session:
        return {t: int(n) for t, n in session.execute(query.group_by(APPLICATION.c.township))}


def _table_by_township(page: Page) -> dict[str, int]:
    """The regions chart's table, summed per township (its first column: the township's name)."""
    names = {"城东街道": "T01", "青阳镇": "T02"}
    found: dict[str, int] = {}
    for row in page.locator("#chart-regions table tbody tr").all():
        cells = row.locator("th, td").all_inner_texts()
        found[names[cells[0]]] = found.get(names[cells[0]], 0) + int(cells[2])
    return found


def _loaded(page: Page) -> None:
    expect(page.locator("#dashboard-charts[data-ready]")).to_have_count(1, timeout=15_000)


def test_dashboard_numbers_are_the_sql_counts(page_for: Callable[[str], Page], step: Step, demo_db: str) -> None:
    _seed(demo_db)
    center = page_for("center1")
    with step(center, "the center's dashboard shows the county's counts per township and in total"):
        visit(center, "/dashboard/")
        _loaded(center)
        assert _table_by_township(center) == _sql_by_township(demo_db)
        total = sum(_sql_by_township(demo_db).values())
        figures = center.locator("#chart-summary .dash-figures .value").all_inner_texts()
        assert int(figures[0]) == total == 4
        expect(center.locator("#chart-departments canvas")).to_have_count(1)

    with step(center, "clicking 民政局's bar opens the case list narrowed to 民政局"):
        chart = center.locator("#chart-departments .dash-chart")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert box is not None
        # 民政局 is the first category: its bars stand in the left quarter, rising from the axis
        clicked = False
        for fraction in (0.12, 0.16, 0.2, 0.24, 0.1, 0.28):
            chart.click(position={"x": box["width"] * fraction, "y": box["height"] * 0.7})
            center.wait_for_timeout(150)
            if "/cases/" in center.url:
                clicked = True
                break
        assert clicked, "no bar of the first department found to click"
        expect(center).to_have_url(re.compile(r"/cases/\?department=minzheng$"))
        expect(center.locator("table tbody tr")).to_have_count(2)

    department = page_for("yb1")
    with step(department, "医保局 sees only the two cases dispatched to it"):
        visit(department, "/dashboard/")
        _loaded(department)
        assert _table_by_township(department) == _sql_by_township(demo_db, "yibao") == {"T01": 1, "T02": 1}
        assert department.locator("#chart-summary .dash-figures .value").first.inner_text() == "2"

    with step(center, "the hall display has no navigation and offers full screen"):
        visit(center, "/dashboard/hall")
        _loaded(center)
        expect(center.locator("nav")).to_have_count(0)
        expect(center.locator("#fullscreen")).to_be_visible()
        assert _table_by_township(center) == _sql_by_township(demo_db)
