"""The administrators' working-day calendar page (/admin/calendar): read-only, validated, admin only."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient

from engine import clock
from engine.deadlines.workcal import ENV_VAR, WorkCalendar
from tests.support.db import settings_for
from tests.support.web import DEMO_PASSWORD, make_app

SHIPPED_CALENDAR = settings_for("sqlite://").calendar_file

SPRING_FESTIVAL = [date(2026, 2, d).isoformat() for d in range(15, 24)]


def page(client: FlaskClient, query: str = "") -> Any:
    """GET the calendar page (status 200) and return its parsed HTML."""
    response = client.get(f"/admin/calendar{query}")
    assert response.status_code == 200, response.data.decode()
    return lxml.html.fromstring(response.data.decode())


def day(doc: Any, iso: str) -> Any:
    """The one grid cell of a date."""
    [cell] = doc.xpath(f'//td[@data-date="{iso}"]')
    return cell


def shown_years(doc: Any) -> list[int]:
    """The years the page lays out, in order."""
    return [int(y) for y in doc.xpath("//section[@data-year]/@data-year")]


@pytest.fixture
def admin(login: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client signed in as the demo administrator."""
    return login("admin1")


def test_spring_festival_2026_is_marked_holiday(admin: FlaskClient) -> None:
    """2026 shows 春节 02-15..02-23 as holidays named 春节, then 2027 after it."""
    doc = page(admin, "?year=2026")
    assert shown_years(doc) == [2026, 2027]
    for iso in SPRING_FESTIVAL:
        cell = day(doc, iso)
        assert cell.get("data-kind") == "holiday" and "春节" in cell.get("title") and "休" in cell.text_content()
    assert day(doc, "2026-02-13").get("data-kind") == "workday"
    assert day(doc, "2026-02-08").get("data-kind") == "weekend"


def test_makeup_saturdays_are_marked_as_working_days(admin: FlaskClient) -> None:
    """The 调休 Saturdays 2026-02-14 and 2026-02-28 are shown as make-up working days with their name."""
    doc = page(admin, "?year=2026")
    for iso in ("2026-02-14", "2026-02-28"):
        cell = day(doc, iso)
        assert cell.get("data-kind") == "makeup_workday"
        assert cell.get("title") == f"{iso} 春节调休上班" and "班" in cell.text_content()
    assert "调休上班" in doc.xpath('//p[@id="legend"]')[0].text_content()


def test_working_days_are_counted_per_month_and_year(admin: FlaskClient) -> None:
    """February 2026 has 16 working days (20 weekdays − 6 off + 2 调休); the year total matches the engine."""
    doc = page(admin, "?year=2026")
    [february] = doc.xpath('//section[@data-year="2026"]//table[@data-month="2"]')
    assert february.get("data-workdays") == "16" and "工作日 16 天" in february.text_content()
    year_total = WorkCalendar.load(SHIPPED_CALENDAR).workdays_between(date(2025, 12, 31), date(2026, 12, 31))
    months = doc.xpath('//section[@data-year="2026"]//table[@data-month]/@data-workdays')
    assert sum(int(n) for n in months) == year_total
    heading = doc.xpath('//section[@data-year="2026"]/h2')[0].text_content()
    assert f"工作日 {year_total} 天" in heading


def test_page_names_the_file_to_edit(admin: FlaskClient) -> None:
    """The page shows the override file's path and says an administrator edits it, not the browser."""
    doc = page(admin, "?year=2026")
    assert doc.xpath('//code[@id="calendar-file"]')[0].text_content() == str(SHIPPED_CALENDAR)
    source = doc.xpath('//section[@id="calendar-source"]')[0].text_content()
    assert "不能在浏览器中修改" in source and ENV_VAR in source
    assert admin.post("/admin/calendar", data={"year": "2026"}).status_code == 405


def test_year_without_official_schedule_is_flagged(admin: FlaskClient) -> None:
    """A year missing from the override file is said to come from the holidays library."""
    doc = page(admin, "?year=2026")
    assert not doc.xpath('//section[@data-year="2026"]//p[contains(@class, "unofficial")]')
    [warning] = doc.xpath('//section[@data-year="2027"]//p[contains(@class, "unofficial")]')
    assert "2027" in warning.text_content()


def test_default_is_the_current_year_in_china(admin: FlaskClient) -> None:
    """Without ?year the page starts at this year in Asia/Shanghai (already 2027 there at 17:00 UTC)."""
    with clock.frozen_at(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)):
        doc = page(admin)
    assert shown_years(doc) == [2027, 2028]
    assert day(doc, "2027-01-01").get("class").split()[-1] == "today"


@pytest.mark.parametrize("bad", ["abc", "1800", "20261", "-1"])
def test_bad_year_falls_back_with_a_message(admin: FlaskClient, bad: str) -> None:
    """An unusable ?year shows the current year and the next, and says the parameter was ignored."""
    with clock.frozen_at(datetime(2026, 3, 2, 1, 0, tzinfo=UTC)):
        doc = page(admin, f"?year={bad}")
    assert shown_years(doc) == [2026, 2027]
    message = doc.xpath('//div[@id="year-message"]')[0].text_content()
    assert bad in message and "2026" in message


@pytest.mark.parametrize("username", ["mz1", "center1", "designer1", "analyst1"])
def test_only_administrators_may_see_it(login: Callable[[str], FlaskClient], username: str) -> None:
    """Staff without the admin role get 403."""
    assert login(username).get("/admin/calendar?year=2026").status_code == 403


def test_signed_out_users_are_sent_to_sign_in(client: FlaskClient) -> None:
    """Without a session the page redirects to the sign-in page."""
    response = client.get("/admin/calendar")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_db: str) -> tuple[Path, FlaskClient]:
    """An app whose engine loaded a copy of the override file; a client signed in as admin1."""
    path = tmp_path / "calendar.yaml"
    shutil.copy(SHIPPED_CALENDAR, path)
    client = make_app(demo_db, tmp_path, CALENDAR_FILE=str(path)).test_client()
    assert client.post("/login", data={"username": "admin1", "password": DEMO_PASSWORD}).status_code == 302
    return path, client


def test_broken_file_is_shown_prominently(own_file: tuple[Path, FlaskClient]) -> None:
    """A broken override file is reported at the top, naming the entry; the calendar in use still shows."""
    path, client = own_file
    doc = page(client, "?year=2026")
    assert doc.xpath('//code[@id="calendar-file"]')[0].text_content() == str(path)
    assert not doc.xpath('//*[@id="calendar-error"]')
    path.write_text(path.read_text(encoding="utf-8").replace("2026-02-28, name", "2026-02-27, name"),
                    encoding="utf-8")
    doc = page(client, "?year=2026")
    [alert] = doc.xpath('//*[@id="calendar-error"]')
    assert alert.get("role") == "alert" and "2026-02-27" in alert.text_content() and str(path) in alert.text_content()
    assert doc.xpath("//main/*")[1] is alert  # right under the heading
    assert day(doc, "2026-02-28").get("data-kind") == "makeup_workday"  # what deadlines still use


def test_valid_edit_is_shown_and_waits_for_a_restart(own_file: tuple[Path, FlaskClient]) -> None:
    """A valid edit is shown at once, with a note that deadlines use it after a restart."""
    path, client = own_file
    path.write_text(path.read_text(encoding="utf-8").replace(
        "- {date: 2026-04-04..2026-04-06, name: 清明节}",
        "- {date: 2026-04-04..2026-04-06, name: 清明节}\n    - {date: 2026-03-02, name: 县庆}"), encoding="utf-8")
    doc = page(client, "?year=2026")
    assert day(doc, "2026-03-02").get("data-kind") == "holiday" and "县庆" in day(doc, "2026-03-02").get("title")
    assert "重启" in doc.xpath('//*[@id="calendar-pending"]')[0].text_content()
