"""The inbox: scoping by role and organisation, filters, green channel and overdue first, pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine import clock
from tests.support.cases import start_at_village_window as start


def test_center_sees_triage_and_department_does_not(engine: Any, login: Any) -> None:
    """A new case's triage task is in the center's inbox and not in a department's."""
    case_no = start(engine)
    assert case_no in login("center1").get("/").data.decode()
    assert case_no not in login("mz1").get("/").data.decode()


def test_department_sees_only_its_own_tasks(engine: Any, login: Any) -> None:
    """After dispatch to 民政, mz1 sees the acceptance task and yb1 does not."""
    case_no = start(engine)
    [triage] = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(triage["id"], "center1", {"decision": "eligible", "departments": ["minzheng"]})
    assert "受理告知" in login("mz1").get("/").data.decode()
    assert case_no not in login("yb1").get("/").data.decode()


def test_green_channel_sorts_first_and_filters(engine: Any, login: Any) -> None:
    """Green-channel cases come first by default and the green-channel filter keeps only them."""
    plain = start(engine)
    green = start(engine, green_channel=True)
    html = login("center1").get("/").data.decode()
    assert html.index(green) < html.index(plain)
    filtered = login("center1").get("/?green_channel=1").data.decode()
    assert green in filtered and plain not in filtered


def test_overdue_filter(engine: Any, login: Any) -> None:
    """The overdue filter shows tasks past their due time with 超期 and hides the others."""
    with clock.frozen_at(clock.now() - timedelta(days=30)):
        old = start(engine)
    fresh = start(engine)
    html = login("center1").get("/?overdue=1").data.decode()
    assert old in html and fresh not in html and "超期" in html


def test_pagination(engine: Any, login: Any) -> None:
    """More than one page of tasks is split into pages of 20."""
    for _ in range(23):
        start(engine)
    client = login("center1")
    first = client.get("/").data.decode()
    assert "共 23 项" in first and "第 1 / 2 页" in first
    assert client.get("/?page=2").data.decode().count("data-task-id") == 3


def test_saved_filters_are_per_user(engine: Any, login: Any) -> None:
    """A saved filter is stored server-side for its owner and not shown to others."""
    client = login("center1")
    client.post("/filters", data={"filter_name": "绿色通道", "green_channel": "1"})
    assert "绿色通道</a>" in client.get("/").data.decode()
    assert "绿色通道</a>" not in login("joint1").get("/").data.decode()


def test_bad_filter_values_do_not_break_the_page(login: Any) -> None:
    """Malformed filter values are reported next to the field; the page still renders."""
    response = login("center1").get("/?due_from=2026-13-99&page=abc&sort=evil")
    assert response.status_code == 200 and "日期格式应为" in response.data.decode()


def test_center_clerk_is_not_a_triage_candidate(engine: Any, login: Any) -> None:
    """A window clerk working at the center is not in the `center` group: triage is for center officers."""
    case_no = start(engine)
    [triage] = engine.queries.list_tasks(case_no=case_no)
    clerk = login("clerk_c")
    assert case_no not in clerk.get("/").data.decode()
    assert clerk.post(f"/tasks/{triage['id']}/complete", data={"decision": "unclear"}).status_code == 404
