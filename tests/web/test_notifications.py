"""The bell, the notice list, and failed deliveries for administrators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine import clock
from engine.deadlines.jobs import tick
from engine.models import Notification
from engine.notify.gateways import GatewayError
from tests.support.cases import APPLICANT
from tests.support.db import deliver, tx
from tests.support.web import DEMO_PASSWORD, make_app

# Monday 09:00 in Jiangsu; triage (2 working days) is overdue by Thursday.
MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
THURSDAY = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
BELL = re.compile(r'<span id="bell-count" class="bell-count"( hidden)?>([^<]*)</span>')


def bell(client: Any) -> tuple[bool, str]:
    """(shown, text) of the bell count on the inbox page."""
    match = BELL.search(client.get("/").data.decode())
    assert match is not None, "no bell in the header"
    return match.group(1) is None, match.group(2)


def in_app(url: str, username: str, count: int, **values: Any) -> list[int]:
    """Store `count` in-app notices for `username`, one minute apart; return their ids."""
    with tx(url) as session:
        rows = [Notification(case_no="C-TEST", recipient="staff", channel="in_app", username=username,
                             kind="due_soon", content=f"【临期提醒】第 {i} 条", details={}, status="pending",
                             created_at=MONDAY + timedelta(minutes=i), **values) for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


class Refusing:
    """An SMS service that refuses every message for good."""

    def send(self, notification: Any) -> None:
        raise GatewayError("号码已停机", retryable=False)


def test_overdue_task_rings_the_bell_and_mark_all_read_clears_it(engine: Any, login: Any) -> None:
    """The scheduler's overdue notice shows in center1's bell and list, linked to the task; 全部标为已读 clears it."""
    with clock.frozen_at(MONDAY):
        case_no, _ = engine.start_case(dict(APPLICANT), "window", "village", False, "clerk_v", "T01V01")
    [triage] = engine.queries.list_tasks(case_no=case_no)
    center = login("center1")
    assert bell(center) == (False, "0")
    tick(engine, THURSDAY)
    assert bell(center) == (True, "1")
    page = center.get("/notifications").data.decode()
    assert "超期" in page and f'href="/tasks/{triage["id"]}"' in page and "全部标为已读" in page
    response = center.post("/notifications/read", data={"all": "1"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/notifications")
    assert bell(center) == (False, "0")
    assert "全部标为已读" not in center.get("/notifications").data.decode()


def test_notice_list_pages_newest_first_and_marks_one_read(login: Any, demo_db: str) -> None:
    """25 notices give pages of 20 and 5, newest first; one can be marked read alone; others' notices stay out."""
    ids = in_app(demo_db, "mz1", 25)
    in_app(demo_db, "yb1", 1)
    mz1 = login("mz1")
    first = mz1.get("/notifications").data.decode()
    assert first.count('class="notice card unread"') == 20 and "第 1 / 2 页" in first
    assert first.index("第 24 条") < first.index("第 5 条") and "第 4 条<" not in first
    second = mz1.get("/notifications?page=2").data.decode()
    assert second.count('class="notice card unread"') == 5 and "第 0 条" in second
    mz1.post("/notifications/read", data={"id": str(ids[0])})
    assert bell(mz1) == (True, "24")
    assert bell(login("yb1")) == (True, "1")


def test_bell_is_only_for_signed_in_users(client: Any) -> None:
    """The sign-in page has no bell; the list needs a session."""
    assert 'id="bell"' not in client.get("/login").data.decode()
    assert client.get("/notifications").status_code == 302


def test_mark_all_read_needs_the_csrf_token(demo_db: str, tmp_path: Path) -> None:
    """With CSRF on, the 全部标为已读 form carries a token and a post without one is refused."""
    in_app(demo_db, "mz1", 1)
    client = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").data.decode())
    assert token is not None
    client.post("/login", data={"username": "mz1", "password": DEMO_PASSWORD, "csrf_token": token.group(1)})
    page = client.get("/notifications").data.decode()
    form = page[page.index('action="/notifications/read"'):page.index('id="mark-all-read"')]
    assert 'name="csrf_token"' in form
    assert client.post("/notifications/read", data={"all": "1"}).status_code == 400
    assert bell(client) == (True, "1")


def test_failed_deliveries_are_for_administrators_and_can_be_sent_again(engine: Any, login: Any,
                                                                         demo_db: str) -> None:
    """/notifications/failed is 403 for mz1; admin1 sees a refused SMS and 重新发送 queues it again."""
    case_no, _ = engine.start_case(dict(APPLICANT), "window", "village", False, "clerk_v", "T01V01")
    assert deliver(demo_db, MONDAY, {"sms": Refusing()})["failed"] == 1
    assert login("mz1").get("/notifications/failed").status_code == 403
    assert login("mz1").post("/notifications/failed/1/retry").status_code == 403
    admin = login("admin1")
    page = admin.get("/notifications/failed").data.decode()
    with tx(demo_db) as session:
        row = session.scalars(select(Notification).where(Notification.case_no == case_no,
                                                         Notification.channel == "sms")).one()
    assert case_no in page and "号码已停机" in page and "发送失败" in page and "重新发送" in page
    assert f'action="/notifications/failed/{row.id}/retry"' in page
    response = admin.post(f"/notifications/failed/{row.id}/retry", follow_redirects=True)
    assert "已重新排入发送队列" in response.data.decode()
    with tx(demo_db) as session:
        again = session.get_one(Notification, row.id)
        assert (again.status, again.attempts) == ("retrying", 0)
    assert "等待重试" in admin.get("/notifications/failed").data.decode()


def test_retrying_an_already_sent_notice_changes_nothing(app: Flask, login: Any, demo_db: str) -> None:
    """重新发送 on a notice that was sent meanwhile says so and leaves it sent."""
    with tx(demo_db) as session:
        sent = Notification(case_no="C-TEST", channel="sms", kind="received", content="x", details={},
                            status="sent", attempts=1, created_at=MONDAY)
        session.add(sent)
        session.flush()
        sent_id = sent.id
    response = login("admin1").post(f"/notifications/failed/{sent_id}/retry", follow_redirects=True)
    assert "无需重新发送" in response.data.decode()
    with tx(demo_db) as session:
        assert session.get_one(Notification, sent_id).status == "sent"
