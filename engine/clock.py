"""The engine's notion of "now", which tests and `relief scheduler tick --now` can set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# The county's time zone: local days, working days and every time shown to people.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_frozen: ContextVar[datetime | None] = ContextVar("relief_frozen_now", default=None)


def now() -> datetime:
    """Return the current time as an aware UTC datetime (or the frozen one)."""
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime; naive values are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local_aware(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime; naive values are Beijing time (what people write)."""
    return aware(value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value)


@contextmanager
def frozen_at(moment: datetime | None) -> Iterator[datetime]:
    """Make `now()` return `moment` inside the block (no-op when `moment` is None)."""
    if moment is None:
        yield now()
        return
    token = _frozen.set(aware(moment))
    try:
        yield aware(moment)
    finally:
        _frozen.reset(token)


def local_text(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment (datetime or ISO text) as local time, 'YYYY-MM-DD HH:MM' by default; '' for None."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return aware(moment).astimezone(LOCAL_TZ).strftime(fmt)
