"""Reading the audit log: the administrators' search (who, action, target, period; newest first, paged) and
the same rows as CSV for Excel (UTF-8 with a BOM), written out as they are read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit.labels import DETAIL_LABELS, action_label
from engine.cases.labels import SYSTEM_ACTORS, actor_names
from engine.errors import InvalidData
from engine.i18n import _l
from engine.paging import DEFAULT_PER_PAGE, Page, paginate
from engine.tables import AUDIT

LIMITS = {"actor": 100, "action": 40, "target": 200}
CSV_BATCH = 500  # rows read and written out at a time
CSV_HEADER = (_l("序号"), _l("时间"), _l("操作人"), _l("操作"), _l("操作代码"), _l("对象"), _l("详情"), _l("校验值"))
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel would run as a formula

_COLUMNS = (AUDIT.c.id, AUDIT.c.seq, AUDIT.c.at, AUDIT.c.actor, AUDIT.c.action, AUDIT.c.target, AUDIT.c.details,
            AUDIT.c.row_hash)


@dataclass(frozen=True)
class AuditFilter:
    """What the administrator searches for: a user, an action, a target (its start) and a period of days."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> AuditFilter:
        """The filter from a form's text fields (since/until as YYYY-MM-DD); InvalidData names a bad field."""
        text = {key: str(values.get(key) or "").strip() for key in ("actor", "action", "target", "since", "until")}
        errors: dict[str, list[str]] = {key: [f"不能超过 {limit} 个字符"] for key, limit in LIMITS.items()
                                        if len(text[key]) > limit}
        days: dict[str, date | None] = {}
        for key in ("since", "until"):
            try:
                days[key] = date.fromisoformat(text[key]) if text[key] else None
            except ValueError:
                errors[key], days[key] = ["日期格式应为 YYYY-MM-DD"], None
        if days["since"] and days["until"] and days["since"] > days["until"]:
            errors["until"] = ["结束日期不能早于开始日期"]
        if errors:
            raise InvalidData("筛选条件有误", errors)
        return cls(text["actor"], text["action"], text["target"], days["since"], days["until"])

    def as_dict(self) -> dict[str, str]:
        """The conditions given, as text (what an export records, the page's links keep)."""
        found = {"actor": self.actor, "action": self.action, "target": self.target,
                 "since": self.since.isoformat() if self.since else "",
                 "until": self.until.isoformat() if self.until else ""}
        return {key: value for key, value in found.items() if value}

    def clauses(self) -> list[ColumnElement[bool]]:
        """SQL on audit_log for these conditions (the days are Beijing days)."""
        found = []
        if self.actor:
            found.append(AUDIT.c.actor == self.actor)
        if self.action:
            found.append(AUDIT.c.action == self.action)
        if self.target:
            escaped = self.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(AUDIT.c.target.like(f"{escaped}%", escape="\\"))
        if self.since:
            found.append(AUDIT.c.at >= _day_start(self.since))
        if self.until:
            found.append(AUDIT.c.at < _day_start(self.until + timedelta(days=1)))
        return found


def _day_start(day: date) -> datetime:
    return clock.local_aware(datetime.combine(day, time()))


def audit_page(session: Session, wanted: AuditFilter, page: int,
               per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
    """One page of the entries matching `wanted`, newest first, with their labels and who acted by name."""
    query = select(*_COLUMNS).where(*wanted.clauses()).order_by(AUDIT.c.seq.desc())
    found = paginate(session.connection(), query, page, per_page, lambda row: dict(row._mapping))
    names = actor_names(session, [row["actor"] for row in found.items])
    for row in found.items:
        row["action_label"] = action_label(row["action"])
        # The engine's own actors by a label to translate; people by name — as typed at sign-in, so never
        # a translation's format string.
        row["actor_system"] = SYSTEM_ACTORS.get(row["actor"])
        row["actor_name"] = names.get(row["actor"], row["actor"])
        row["details_shown"] = [(DETAIL_LABELS.get(key, key), _shown(value)) for key, value in row["details"].items()]
    return found


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def count_matching(conn: Connection, wanted: AuditFilter, up_to_seq: int) -> int:
    """How many entries up to `up_to_seq` match `wanted` (what an export will write)."""
    return int(conn.execute(select(func.count()).select_from(AUDIT)
                            .where(AUDIT.c.seq <= up_to_seq, *wanted.clauses())).scalar_one())


def csv_rows(conn: Connection, wanted: AuditFilter, up_to_seq: int,
             translate: Callable[[str], str]) -> Iterator[str]:
    """The matching entries up to `up_to_seq` as CSV text, newest first: a BOM and the header, then
    CSV_BATCH rows at a time as they are read (never the whole file in memory)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([translate(title) for title in CSV_HEADER])
    yield "\ufeff" + _drain(out)
    query = (select(*_COLUMNS).where(AUDIT.c.seq <= up_to_seq, *wanted.clauses()).order_by(AUDIT.c.seq.desc())
             .execution_options(yield_per=CSV_BATCH))
    for batch in conn.execute(query).partitions():
        for row in batch:
            writer.writerow([row.seq, clock.local_text(row.at, "%Y-%m-%d %H:%M:%S"), excel_cell(row.actor),
                             translate(action_label(row.action)), row.action, excel_cell(row.target or ""),
                             excel_cell(json.dumps(row.details, ensure_ascii=False)), row.row_hash])
        yield _drain(out)


def excel_cell(value: str) -> str:
    """A value Excel shows as text: one that would start a formula (a username typed at sign-in can) gets a '."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _drain(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
