"""Working-day (工作日) calendar for statutory deadlines: CN holidays, 调休 make-up days, local overrides."""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from engine.clock import LOCAL_TZ

ENV_VAR = "RELIEF_CALENDAR_FILE"
DEFAULT_TZ = LOCAL_TZ.key
END_OF_DAY = time(23, 59, 59)
# The longest official block so far is 9 days (春节 2026); a longer range is almost surely a typo.
MAX_RANGE_DAYS = 31

DayKind = Literal["workday", "weekend", "holiday", "makeup_workday"]
_WORKING_KINDS: frozenset[str] = frozenset({"workday", "makeup_workday"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarError(ValueError):
    """Raised when the calendar override file is missing or invalid."""


class CalendarDay(TypedDict):
    """One row of WorkCalendar.year_calendar()."""

    date: date
    workday: bool
    kind: DayKind
    name: str | None


@dataclass(frozen=True)
class Overrides:
    """Validated contents of an override file."""

    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()
    source: Path | None = None


@dataclass(frozen=True)
class _YearData:
    """Precomputed classification of one calendar year."""

    workdays: list[date]
    special: dict[date, tuple[DayKind, str]]


# Dates stay strings so they are validated here: PyYAML would otherwise raise a bare ValueError for
# 2025-02-30 before we can say which entry it was. Built with type() because yaml may be untyped (Any).
_NoTimestampLoader: Any = type("_NoTimestampLoader", (yaml.SafeLoader,), {})
_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_overrides(path: Path) -> Overrides:
    """Read and validate an override file, raising CalendarError that names the file and entry."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoTimestampLoader)
    except FileNotFoundError as exc:
        raise CalendarError(f"{path}: calendar override file not found (set {ENV_VAR} to relocate)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"{path}: cannot read calendar override file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: not valid YAML: {exc}") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise CalendarError(f"{path}: top level must map years to {{holidays: [...], workdays: [...]}}")
    hols: dict[date, str] = {}
    works: dict[date, str] = {}
    for year, section in raw.items():
        _parse_year(path, year, section, hols, works)
    clashes = sorted(hols.keys() & works.keys())
    if clashes:
        d = clashes[0]
        raise CalendarError(f"{path}: {d} is listed both as holiday ({hols[d]}) and as workday ({works[d]})")
    return Overrides(hols, works, frozenset(raw), path)


def _parse_year(path: Path, year: Any, section: Any, hols: dict[date, str], works: dict[date, str]) -> None:
    """Validate one `YYYY:` section and merge its dates into hols/works."""
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise CalendarError(f"{path}: top-level key {year!r} must be a year such as 2026")
    section = {} if section is None else section
    if not isinstance(section, dict) or not set(section) <= {"holidays", "workdays"}:
        raise CalendarError(
            f"{path}: year {year} must contain only 'holidays:' and 'workdays:', got {section!r}"
        )
    for entry in _entries(path, year, "holidays", section.get("holidays")):
        days, name = _parse_entry(path, year, "holidays", entry, default_name=None)
        for d in days:
            # Overlapping blocks (国庆 + 中秋) are legitimate; keep both names.
            hols[d] = name if hols.get(d, name) == name else f"{hols[d]}、{name}"
    for entry in _entries(path, year, "workdays", section.get("workdays")):
        days, name = _parse_entry(path, year, "workdays", entry, default_name="调休上班")
        for d in days:
            if d.weekday() < 5:
                raise CalendarError(
                    f"{path}: {year}.workdays entry {entry!r}: {d} is a {_WEEKDAYS[d.weekday()]}; "
                    "make-up workdays (调休上班) must be a Saturday or Sunday"
                )
            works[d] = name


def _entries(path: Path, year: int, key: str, value: Any) -> list[Any]:
    """Return a section's list, treating a missing key as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CalendarError(f"{path}: {year}.{key} must be a list, got {value!r}")
    return value


def _parse_entry(
    path: Path, year: int, key: str, entry: Any, default_name: str | None
) -> tuple[list[date], str]:
    """Parse `{date: D or D..D, name: N}` or a bare `D`/`D..D` into its dates and name."""
    where = f"{path}: {year}.{key} entry {entry!r}"
    if isinstance(entry, dict):
        if "date" not in entry or not set(entry) <= {"date", "name"}:
            raise CalendarError(f"{where}: expected keys 'date' and optional 'name'")
        spec, name = entry["date"], entry.get("name", default_name)
    else:
        spec, name = entry, default_name
    if not isinstance(name, str) or not name.strip():
        raise CalendarError(f"{where}: a non-empty 'name' is required")
    days = _parse_span(where, spec)
    if any(abs(d.year - year) > 1 for d in days):
        raise CalendarError(f"{where}: date lies outside year {year} and its neighbours")
    return days, name.strip()


def _parse_span(where: str, spec: Any) -> list[date]:
    """Expand `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD` (inclusive) into dates."""
    if not isinstance(spec, str):
        raise CalendarError(f"{where}: date must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
    first_text, sep, last_text = spec.partition("..")
    first = _parse_date(where, first_text)
    last = _parse_date(where, last_text) if sep else first
    if last < first:
        raise CalendarError(f"{where}: range is reversed ({first} is after {last})")
    span = (last - first).days + 1
    if span > MAX_RANGE_DAYS:
        raise CalendarError(f"{where}: range covers {span} days, more than {MAX_RANGE_DAYS}")
    return [first + timedelta(days=i) for i in range(span)]


def _parse_date(where: str, text: str) -> date:
    """Parse a strict YYYY-MM-DD date."""
    text = text.strip()
    if not _DATE_RE.match(text):
        raise CalendarError(f"{where}: {text!r} is not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(f"{where}: {text!r} is not a valid date ({exc})") from exc


def _zone(tz: str) -> ZoneInfo:
    """Resolve an IANA time zone name."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {tz!r}") from exc


def _require_date(d: date) -> None:
    """Reject datetimes, whose calendar day depends on a time zone the caller must choose."""
    if isinstance(d, datetime):
        raise TypeError(f"expected a date, got datetime {d!r}; convert with .astimezone(tz).date() first")


class WorkCalendar:
    """Mon–Fri minus Chinese public holidays plus 调休 make-up days; the override file wins."""

    def __init__(self, overrides: Overrides, tz: str = DEFAULT_TZ) -> None:
        """Build a calendar from already-validated overrides; most callers want WorkCalendar.load()."""
        self.overrides = overrides
        self.tz = _zone(tz)
        self._library = holidays.country_holidays("CN", language="zh_CN")
        self._years: dict[int, _YearData] = {}
        # The library fills years lazily and is not thread-safe; guard the one-off build per year.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, override_path: Path, tz: str = DEFAULT_TZ) -> WorkCalendar:
        """Load the calendar whose override file is `override_path` (`Settings.calendar_file`)."""
        return cls(load_overrides(Path(override_path)), tz)

    def is_workday(self, d: date) -> bool:
        """Return True if d is a working day."""
        _require_date(d)
        return self._kind(d)[0] in _WORKING_KINDS

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """Return the UTC due moment: 23:59:59 local on the n-th working day after start's local date."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start must be timezone-aware, got naive {start!r}")
        due = self._nth_workday(start.astimezone(self.tz).date(), n)
        return datetime.combine(due, END_OF_DAY, tzinfo=self.tz).astimezone(UTC)

    def workdays_between(self, a: date, b: date) -> int:
        """Count working days in (a, b]; negative (minus those in (b, a]) when b < a."""
        _require_date(a)
        _require_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        full_years = sum(len(self._year(y).workdays) for y in range(a.year, b.year))
        return full_years - self._rank(a) + self._rank(b)

    def year_calendar(self, year: int) -> list[CalendarDay]:
        """List every day of year with its workday flag, kind and holiday name."""
        rows: list[CalendarDay] = []
        for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
            d = date.fromordinal(ordinal)
            kind, name = self._kind(d)
            rows.append(CalendarDay(date=d, workday=kind in _WORKING_KINDS, kind=kind, name=name))
        return rows

    def _kind(self, d: date) -> tuple[DayKind, str | None]:
        """Classify d using the cached year data."""
        special = self._year(d.year).special.get(d)
        if special is not None:
            return special
        return ("weekend" if d.weekday() >= 5 else "workday"), None

    def _rank(self, d: date) -> int:
        """Number of working days from 1 January of d's year up to and including d."""
        return bisect_right(self._year(d.year).workdays, d)

    def _nth_workday(self, day: date, n: int) -> date:
        """Return the n-th working day after day, or the first working day on/after day when n == 0."""
        year = day.year
        workdays = self._year(year).workdays
        index = bisect_right(workdays, day) + n - 1 if n else bisect_left(workdays, day)
        while index >= len(workdays):
            index -= len(workdays)
            year += 1
            workdays = self._year(year).workdays
        return workdays[index]

    def _year(self, year: int) -> _YearData:
        """Return the cached classification of year, building it on first use."""
        data = self._years.get(year)
        if data is None:
            with self._lock:
                data = self._years.get(year) or self._build_year(year)
                self._years[year] = data
        return data

    def _build_year(self, year: int) -> _YearData:
        """Classify every day of year once so later lookups are dict/bisect operations."""
        workdays: list[date] = []
        special: dict[date, tuple[DayKind, str]] = {}
        for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
            d = date.fromordinal(ordinal)
            kind, name = self._classify(d)
            if name is not None:
                special[d] = (kind, name)
            if kind in _WORKING_KINDS:
                workdays.append(d)
        return _YearData(workdays, special)

    def _classify(self, d: date) -> tuple[DayKind, str | None]:
        """Decide d's kind: override entries, then override years, then the holidays library."""
        ov = self.overrides
        if d in ov.holidays:
            return "holiday", ov.holidays[d]
        if d in ov.workdays:
            return "makeup_workday", ov.workdays[d]
        weekend = d.weekday() >= 5
        if d.year not in ov.years:
            if weekend and self._library.is_working_day(d):
                return "makeup_workday", "调休上班"
            name = self._library.get(d)
            if name is not None:
                return "holiday", name
        return ("weekend" if weekend else "workday"), None


@dataclass(frozen=True)
class FileCheck:
    """The override file as it is on disk now, beside the calendar the engine loaded at start."""

    path: Path
    on_disk: WorkCalendar | None  # None when the file cannot be read or is invalid
    error: str | None
    pending_restart: bool  # the file differs from what the running engine counts with


def check_file(in_use: WorkCalendar, path: Path) -> FileCheck:
    """Read `path` again and say whether it is valid and whether it differs from `in_use`."""
    try:
        on_disk = WorkCalendar.load(path, in_use.tz.key)
    except CalendarError as err:
        return FileCheck(path, None, str(err), False)
    ours, theirs = on_disk.overrides, in_use.overrides
    same = (ours.holidays, ours.workdays, ours.years) == (theirs.holidays, theirs.workdays, theirs.years)
    return FileCheck(path, on_disk, None, not same)
