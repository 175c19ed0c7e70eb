"""The working-day calendar page for administrators (工作日历): what the deadlines count with.

The page only reads. The official schedule lives in the override file, which an administrator
edits on the server; reloading this page validates the file as it is now and shows what the
running engine (loaded at start) would change to after a restart.
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from engine import clock
from engine.deadlines.workcal import ENV_VAR, CalendarDay, WorkCalendar, check_file
from engine.i18n import _l
from web.services import engine, require, settings

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin")
# Years the page lays out; anything else in ?year= is almost surely a typo.
MIN_YEAR, MAX_YEAR = 2000, 2099
# Marked for the catalog; the template translates them when it renders them.
KIND_LABELS = {"workday": _l("工作日"), "weekend": _l("周末"), "holiday": _l("法定节假日"),
               "makeup_workday": _l("调休上班")}
WEEKDAY_HEADINGS = ("一", "二", "三", "四", "五", "六", "日")


@dataclass
class MonthGrid:
    """One month laid out in Monday-first weeks; days of other months are None."""

    month: int
    weeks: list[list[CalendarDay | None]]
    workdays: int


@dataclass
class YearView:
    """A year of the calendar as the page shows it."""

    year: int
    months: list[MonthGrid]
    workdays: int
    holidays: int
    makeup_workdays: int
    official: bool  # the year has its own section in the override file


def year_view(work_calendar: WorkCalendar, year: int) -> YearView:
    """Lay out one year of `work_calendar` as twelve month grids with working-day counts."""
    days = {row["date"]: row for row in work_calendar.year_calendar(year)}
    weeks_of = month_calendar.Calendar(firstweekday=0).monthdatescalendar
    months = []
    for month in range(1, 13):
        weeks = [[days[d] if d.month == month else None for d in week] for week in weeks_of(year, month)]
        months.append(MonthGrid(month, weeks, sum(1 for d, row in days.items() if d.month == month and row["workday"])))
    kinds = [row["kind"] for row in days.values()]
    return YearView(year, months, sum(m.workdays for m in months), kinds.count("holiday"),
                    kinds.count("makeup_workday"), year in work_calendar.overrides.years)


def parse_year(raw: str | None, default: int) -> tuple[int, str | None]:
    """The requested first year, or `default` with a message when the parameter is unusable."""
    if raw is None or not raw.strip():
        return default, None
    try:
        year = int(raw.strip())
    except ValueError:
        year = None
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return default, _("年份参数“%(raw)s”无效（应为 %(lo)s–%(hi)s 之间的年份），已显示 %(year)s 年",
                          raw=raw[:20], lo=MIN_YEAR, hi=MAX_YEAR, year=default)
    return year, None


@bp.route("/calendar")
@login_required
def calendar() -> Any:
    """Month grids of a year and the next, from the override file as it is on disk now."""
    require("calendar")
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    year, year_message = parse_year(request.args.get("year"), today.year)
    in_use = engine().calendar
    check = check_file(in_use, settings().calendar_file)
    # With a broken file the deadlines still count with what the engine loaded at start.
    shown = check.on_disk or in_use
    return render_template(
        "calendar_admin/calendar.html", years=[year_view(shown, y) for y in (year, year + 1)],
        year=year, today=today, year_message=year_message, path=check.path, env_var=ENV_VAR,
        file_error=check.error, pending_restart=check.pending_restart,
        kind_labels=KIND_LABELS, weekdays=WEEKDAY_HEADINGS, min_year=MIN_YEAR, max_year=MAX_YEAR)
