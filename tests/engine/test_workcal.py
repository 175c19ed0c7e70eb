"""Tests for engine.deadlines.workcal: CN working days, 调休, override file precedence and deadline maths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.deadlines import workcal
from engine.deadlines.workcal import CalendarError, WorkCalendar
from engine.settings import Settings

SHIPPED = Settings.from_environ({}).calendar_file

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    """Calendar built from the shipped override file, independent of $RELIEF_CALENDAR_FILE."""
    return WorkCalendar.load(SHIPPED)


def _span(first: date, last: date) -> list[date]:
    """Inclusive list of dates."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _write(tmp_path: Path, text: str) -> Path:
    """Write an override file into tmp_path."""
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_spring_festival_2026_with_makeup_saturdays(cal: WorkCalendar) -> None:
    """春节 2026: 2/15–2/23 off, Saturdays 2/14 and 2/28 are make-up workdays."""
    assert all(not cal.is_workday(d) for d in _span(date(2026, 2, 15), date(2026, 2, 23)))
    assert cal.is_workday(date(2026, 2, 14))
    assert cal.is_workday(date(2026, 2, 28))
    assert cal.is_workday(date(2026, 2, 13)) and cal.is_workday(date(2026, 2, 24))
    rows = {r["date"]: r for r in cal.year_calendar(2026)}
    assert rows[date(2026, 2, 14)]["kind"] == "makeup_workday"
    assert rows[date(2026, 2, 15)] == {
        "date": date(2026, 2, 15),
        "workday": False,
        "kind": "holiday",
        "name": "春节",
    }
    assert rows[date(2026, 3, 7)]["kind"] == "weekend"


def test_national_day_2025(cal: WorkCalendar) -> None:
    """国庆+中秋 2025: 10/1–10/8 off, Sun 9/28 and Sat 10/11 worked, Sun 10/12 off."""
    assert all(not cal.is_workday(d) for d in _span(date(2025, 10, 1), date(2025, 10, 8)))
    assert cal.is_workday(date(2025, 9, 28))
    assert cal.is_workday(date(2025, 10, 11))
    assert cal.is_workday(date(2025, 10, 9))
    assert not cal.is_workday(date(2025, 10, 12))


def test_plain_week(cal: WorkCalendar) -> None:
    """An ordinary week (2025-03-10..16) has Mon–Fri as workdays and the weekend off."""
    week = _span(date(2025, 3, 10), date(2025, 3, 16))
    assert [cal.is_workday(d) for d in week] == [True] * 5 + [False] * 2
    assert cal.workdays_between(date(2025, 3, 9), date(2025, 3, 16)) == 5


def test_year_calendar_shape(cal: WorkCalendar) -> None:
    """year_calendar lists every day once, and 2025/2026 each have 248 official workdays."""
    for year, length in ((2024, 366), (2025, 365), (2026, 365)):
        rows = cal.year_calendar(year)
        assert [r["date"] for r in rows] == _span(date(year, 1, 1), date(year, 12, 31))
        assert len(rows) == length
    assert sum(r["workday"] for r in cal.year_calendar(2025)) == 248
    assert sum(r["workday"] for r in cal.year_calendar(2026)) == 248


def test_add_workdays_across_holiday(cal: WorkCalendar) -> None:
    """Arrival on 9/30 with n=1 is due 10/9; n=3 lands on make-up Saturday 10/11."""
    start = datetime(2025, 9, 30, 10, 0, tzinfo=SHANGHAI)
    assert cal.add_workdays(start, 1) == datetime(2025, 10, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert cal.add_workdays(start, 3) == datetime(2025, 10, 11, 23, 59, 59, tzinfo=SHANGHAI)
    # 春节 2026 straddles the 2/14 make-up Saturday, so 2 working days after 2/13 is 2/24.
    feb13 = datetime(2026, 2, 13, 9, 0, tzinfo=SHANGHAI)
    assert cal.add_workdays(feb13, 2) == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)


def test_friday_evening_arrival(cal: WorkCalendar) -> None:
    """A request arriving Friday 20:00 with one working day is due end of Monday."""
    due = cal.add_workdays(datetime(2025, 3, 14, 20, 0, tzinfo=SHANGHAI), 1)
    assert due == datetime(2025, 3, 17, 15, 59, 59, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


def test_zero_and_negative_n(cal: WorkCalendar) -> None:
    """n=0 is the end of today if a workday, else of the next workday; negative n is rejected."""
    assert cal.add_workdays(datetime(2025, 3, 12, 9, 0, tzinfo=SHANGHAI), 0) == datetime(
        2025, 3, 12, 23, 59, 59, tzinfo=SHANGHAI
    )
    assert cal.add_workdays(datetime(2025, 3, 15, 9, 0, tzinfo=SHANGHAI), 0) == datetime(
        2025, 3, 17, 23, 59, 59, tzinfo=SHANGHAI
    )
    with pytest.raises(ValueError, match="n must be >= 0"):
        cal.add_workdays(datetime(2025, 3, 12, tzinfo=SHANGHAI), -1)


def test_timezone_uses_shanghai_local_date(cal: WorkCalendar) -> None:
    """A UTC instant that is already the next day in Shanghai counts from the Shanghai date."""
    # Thu 2025-03-13 17:30Z is Fri 01:30 in Shanghai, so one working day later is Monday, not Friday.
    due = cal.add_workdays(datetime(2025, 3, 13, 17, 30, tzinfo=UTC), 1)
    assert due == datetime(2025, 3, 17, 15, 59, 59, tzinfo=UTC)
    # 2025-09-30 16:30Z is already National Day in Shanghai, so n=0 rolls to 10/9.
    assert cal.add_workdays(datetime(2025, 9, 30, 16, 30, tzinfo=UTC), 0) == datetime(
        2025, 10, 9, 15, 59, 59, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_workdays(datetime(2025, 3, 13, 17, 30), 1)
    with pytest.raises(TypeError, match="expected a date"):
        cal.is_workday(datetime(2025, 3, 13, 17, 30, tzinfo=UTC))


def test_workdays_between_sign(cal: WorkCalendar) -> None:
    """workdays_between counts (a, b], is negative when reversed and zero for the same day."""
    a, b = date(2025, 9, 30), date(2025, 10, 10)
    assert cal.workdays_between(a, b) == 2
    assert cal.workdays_between(b, a) == -2
    assert cal.workdays_between(a, a) == 0
    # Across the year boundary: 1/1–1/3 off, Sun 1/4 make-up, Mon 1/5.
    assert cal.workdays_between(date(2025, 12, 31), date(2026, 1, 5)) == 2
    assert cal.workdays_between(date(2026, 1, 5), date(2025, 12, 30)) == -3


def test_override_file_wins_over_library(tmp_path: Path) -> None:
    """A year in the override file replaces the library; other years still come from the library."""
    path = _write(
        tmp_path,
        "2025:\n  holidays:\n    - {date: 2025-03-14, name: 测试假日}\n  workdays:\n    - 2025-03-15\n",
    )
    cal = WorkCalendar.load(Settings.from_environ({"RELIEF_CALENDAR_FILE": str(path)}).calendar_file)
    assert cal.overrides.source == path
    assert not cal.is_workday(date(2025, 3, 14))
    assert cal.is_workday(date(2025, 3, 15))
    assert cal.is_workday(date(2025, 10, 1))  # the library's National Day is not consulted for 2025
    assert not cal.is_workday(date(2024, 10, 1))  # 2024 has no section: library applies
    assert cal.is_workday(date(2024, 9, 29))  # library knows the 2024 make-up Sunday
    rows = {r["date"]: r for r in cal.year_calendar(2025)}
    assert rows[date(2025, 3, 15)] == {
        "date": date(2025, 3, 15),
        "workday": True,
        "kind": "makeup_workday",
        "name": "调休上班",
    }


def test_default_path_is_shipped_file() -> None:
    """Without RELIEF_CALENDAR_FILE the settings name the repo's data/calendar/cn_overrides.yaml."""
    cal = WorkCalendar.load(SHIPPED)
    assert cal.overrides.source == Path(workcal.__file__).resolve().parents[2] / "data" / "calendar" / (
        "cn_overrides.yaml"
    )
    assert {2025, 2026} <= cal.overrides.years


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025:\n  holidays: [{date: 2025-02-30, name: X}]\n", "'2025-02-30' is not a valid date"),
        ("2025:\n  holidays: [{date: 2025-10-08..2025-10-01, name: X}]\n", "range is reversed"),
        (
            "2025:\n  holidays: [{date: 2025-10-01..2025-10-08, name: 国庆}]\n  workdays: [2025-10-04]\n",
            "2025-10-04 is listed both as holiday (国庆) and as workday",
        ),
        ("2025:\n  workdays: [2025-03-12]\n", "2025-03-12 is a Wednesday"),
        ("2025:\n  holidays: [2025-01-01]\n", "'name' is required"),
        ("2025:\n  holidays: [{date: 25-1-1, name: X}]\n", "is not a YYYY-MM-DD date"),
        ("2025:\n  holiday: []\n", "must contain only 'holidays:' and 'workdays:'"),
        ("2025:\n  holidays: [{date: 2052-01-01, name: X}]\n", "outside year 2025"),
        ("- 2025-01-01\n", "top level must map years"),
        ("2025: [unclosed\n", "not valid YAML"),
    ],
    ids=[
        "impossible-date",
        "reversed-range",
        "holiday-and-workday",
        "weekday-as-makeup",
        "holiday-without-name",
        "non-iso-date",
        "unknown-key",
        "outside-year",
        "top-level-list",
        "broken-yaml",
    ],
)
def test_bad_override_file_raises(tmp_path: Path, text: str, expected: str) -> None:
    """Invalid override files raise CalendarError naming the file and the offending entry."""
    path = _write(tmp_path, text)
    with pytest.raises(CalendarError) as info:
        WorkCalendar.load(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_override_file(tmp_path: Path) -> None:
    """A missing override file is an error, not a silent fallback to the library."""
    with pytest.raises(CalendarError, match="not found"):
        WorkCalendar.load(tmp_path / "nope.yaml")


def test_year_data_is_cached(cal: WorkCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of lookups build each year's day set only once."""
    fresh = WorkCalendar(cal.overrides)
    calls: list[int] = []
    original = fresh._build_year

    def counting(year: int) -> workcal._YearData:
        """Record which years get built."""
        calls.append(year)
        return original(year)

    monkeypatch.setattr(fresh, "_build_year", counting)
    start = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    for i in range(3000):
        fresh.add_workdays(start + timedelta(hours=i), 2)
        fresh.is_workday(date(2025, 6, 1) + timedelta(days=i % 100))
    assert sorted(calls) == [2025]
