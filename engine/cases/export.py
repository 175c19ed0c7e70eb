"""Exporting the case query (案件导出, R-6.4.2): the cases a filter names, as CSV or XLSX, streamed.

`CaseExports` (`CaseEngine.exports`) is what the query page's 导出, `GET /api/v1/cases?format=…` and
`relief case export` call. The rows are the cases `casefile.case_list_query` names for the user (their
scope AND the filter of `case_query`), read `BATCH` at a time with `yield_per` (a server-side cursor on
PostgreSQL); the names of organisations, departments, matters and 好差评 levels are looked up per batch, so
memory does not grow with the number of rows:

- CSV: UTF-8 with a BOM (Excel then reads the Chinese), one chunk of text per batch;
- XLSX: an openpyxl write-only workbook (rows go to its temporary file as they are appended), saved to a
  temporary file that is then handed out in `FILE_CHUNK` pieces.

The applicant's name, ID number, phone and address are masked unless the user may unmask (`scoping`
"unmask") and gives a reason (`casefile.unmask_reason`). Every export writes ONE `case_export` audit row —
its filter, format, how many rows were handed out, masked or not and the reason — when the stream ends,
in a transaction of its own (the count is known only then); a client that goes away mid-download ends the
stream too (the iterator is closed), and the row then says `complete: false` with the rows sent so far.
An unmasked export writes an `unmask` row as well.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, select

from engine import clock, status, tables
from engine.access import personal_data, scoping
from engine.access.accounts import Principal, audit
from engine.audit.log import excel_cell
from engine.cases.case_query import CaseFilter, filter_args, parse_filter
from engine.cases.casefile import case_list_query, unmask_reason
from engine.cases.channels import channel_label, level_label
from engine.cases.workflows import Workflows
from engine.deadlines.due import went_overdue_clause
from engine.errors import InvalidData
from engine.i18n import _l
from engine.reference import ReferenceData
from engine.tables import APPLICATION, INSTANCE, RATING, TASK, TASK_GROUP

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
BATCH = 1000  # rows read (and looked up) at a time
FILE_CHUNK = 64 * 1024  # bytes of the saved workbook handed out at a time
SPOOL_BYTES = 1024 * 1024  # a workbook up to this size stays in memory, a larger one goes to disk
TITLE = _l("案件查询导出")  # the worksheet's name
FILE_NAME = _l("案件查询")

COLUMNS = (
    _l("案件编号"), _l("登记时间"), _l("受理渠道"), _l("受理层级"), _l("乡镇(街道)"), _l("村(社区)"), _l("事项"),
    _l("申请人"), _l("身份证号"), _l("联系电话"), _l("住址"), _l("救助诉求"), _l("绿色通道"), _l("状态"),
    _l("办结时间"), _l("办理部门"), _l("超期"), _l("满意度"),
)
EXPORT_COLUMNS = (APPLICATION.c.case_no, APPLICATION.c.created_at, APPLICATION.c.channel, APPLICATION.c.level,
                  APPLICATION.c.township, APPLICATION.c.village, APPLICATION.c.matters,
                  APPLICATION.c.applicant_name, APPLICATION.c.id_number, APPLICATION.c.phone, APPLICATION.c.address,
                  APPLICATION.c.request, APPLICATION.c.green_channel, INSTANCE.c.status, INSTANCE.c.ended_at)
YES, NO = _l("是"), _l("否")
Rows = Generator[list[list[str]], None, None]  # the export's rows, a batch at a time


@dataclass
class CaseExport:
    """One export being handed out: iterate it for the file's bytes; `close()` (also called when the
    iteration ends or is abandoned) writes the audit row once."""

    filename: str  # 案件查询-20261202-0930.csv (in the user's language)
    ascii_filename: str  # cases-20261202-0930.csv, for clients that cannot take the other
    content_type: str
    chunks: Callable[[CaseExport], Iterator[bytes]]
    on_close: Callable[[CaseExport], None]
    rows: int = 0  # rows handed out so far
    complete: bool = False
    _closed: bool = field(default=False, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.chunks(self)
            self.complete = True
        finally:
            self.close()

    def close(self) -> None:
        """Write the audit row (once) with what was handed out."""
        if not self._closed:
            self._closed = True
            self.on_close(self)


class _Names:
    """What the rows' codes are called, read once per export (organisations) or per batch."""

    def __init__(self, conn: Connection, reference: ReferenceData, translate: Callable[[Any], str]):
        self.orgs = {code: name for code, name in conn.execute(select(tables.ORGS.c.code, tables.ORGS.c.name))}
        self.departments = {code: str(d.get("zh", code)) for code, d in reference.departments().items()}
        self.department_codes = set(self.departments) | {
            code for code, kind in conn.execute(select(tables.ORGS.c.code, tables.ORGS.c.kind)) if kind == "department"}
        self.matters = {code: str(m.get("name", code)) for code, m in reference.matters().items()}
        self.levels = {code: str(r.get("zh", code)) for code, r in reference.rating_levels().items()}
        self.translate = translate
        self.yes, self.no = translate(YES), translate(NO)
        self._labels: dict[tuple[str, Any], str] = {}

    def flag(self, value: bool) -> str:
        return self.yes if value else self.no

    def label(self, kind: str, code: Any) -> str:
        """A channel's, level's or status's label, translated once per export (not once per row)."""
        key = (kind, code)
        if key not in self._labels:
            found = {"channel": channel_label, "level": level_label, "status": status.label}[kind](code)
            self._labels[key] = self.translate(found)
        return self._labels[key]


def _batch_facts(conn: Connection, names: _Names, case_nos: Sequence[str],
                 now: datetime) -> tuple[dict[str, list[str]], set[str], dict[str, str]]:
    """For one batch of cases: the departments that handled each, those that went overdue, and each one's
    first 好差评 level."""
    departments: dict[str, list[str]] = {}
    rows = conn.execute(select(TASK.c.case_no, TASK_GROUP.c.group_code).distinct()
                        .join(TASK_GROUP, TASK_GROUP.c.task_id == TASK.c.id)
                        .where(TASK.c.case_no.in_(case_nos),
                               TASK_GROUP.c.group_code.in_(sorted(names.department_codes)))
                        .order_by(TASK.c.case_no, TASK_GROUP.c.group_code))
    for case_no, group in rows:
        departments.setdefault(case_no, []).append(group)
    overdue = set(conn.execute(select(TASK.c.case_no).distinct()
                               .where(TASK.c.case_no.in_(case_nos), went_overdue_clause(now))).scalars())
    ratings: dict[str, str] = {}
    for case_no, level in conn.execute(select(RATING.c.case_no, RATING.c.level)
                                       .where(RATING.c.case_no.in_(case_nos), RATING.c.follow_up.is_(False))
                                       .order_by(RATING.c.created_at, RATING.c.id)):
        ratings.setdefault(case_no, level)
    return departments, overdue, ratings


def _values(row: Any, names: _Names, unmasked: bool, departments: list[str], overdue: bool,
            rating: str | None) -> list[str]:
    final = status.is_final(row.status)
    person = ({"name": row.applicant_name, "id_number": row.id_number, "phone": row.phone,
               "address": row.address or ""} if unmasked
              else personal_data.masked_applicant(row.applicant_name, row.id_number, row.phone, row.address))
    return [row.case_no, clock.local_text(row.created_at, "%Y-%m-%d %H:%M"), names.label("channel", row.channel),
            names.label("level", row.level), names.orgs.get(row.township, row.township or ""),
            names.orgs.get(row.village or "", row.village or ""),
            "、".join(names.matters.get(str(m), str(m)) for m in row.matters or []),
            *(excel_cell(str(person.get(key) or "")) for key in ("name", "id_number", "phone", "address")),
            excel_cell(row.request or ""), names.flag(row.green_channel), names.label("status", row.status),
            clock.local_text(row.ended_at, "%Y-%m-%d %H:%M") if final and row.ended_at else "",
            "、".join(names.departments.get(d, names.orgs.get(d, d)) for d in departments),
            names.flag(overdue), names.levels.get(rating, rating) if rating else ""]


class CaseExports:
    """The case query's exports for the query page, the API and the CLI."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows
        self.reference = workflows.settings.reference

    def check(self, principal: Principal, args: Mapping[str, Any], fmt: str, unmask: bool = False,
              reason: str | None = None) -> tuple[CaseFilter, str]:
        """The filter and the reason of an export the user may make; Forbidden or InvalidData (with the
        fields' Chinese errors) otherwise. Nothing is read but the filter's reference data."""
        scoping.require(principal, "case_export")
        if fmt not in FORMATS:
            raise InvalidData("导出格式应为 CSV 或 XLSX", {"format": [f"导出格式应为 {' 或 '.join(FORMATS)}"]})
        if unmask:
            scoping.require(principal, "unmask")
            reason = unmask_reason(reason)
        with self.workflows.reading() as session:
            case_filter, errors = parse_filter(session.connection(), self.reference, args)
        if errors:
            raise InvalidData("查询条件有误", errors)
        return case_filter, reason or ""

    def export(self, principal: Principal, args: Mapping[str, Any], fmt: str, unmask: bool = False,
               reason: str | None = None, translate: Callable[[Any], str] = str) -> CaseExport:
        """The cases the filter named by `args` names, in this user's scope, as a CSV or XLSX file to stream
        (see the module's docstring); `translate` renders the headers and labels (a page: its locale)."""
        case_filter, reason = self.check(principal, args, fmt, unmask, reason)
        now = clock.now()
        started = clock.local_text(now, "%Y%m%d-%H%M")
        query = case_list_query(principal, case_filter, self.reference, now, EXPORT_COLUMNS)

        def batches(export: CaseExport) -> Rows:
            with self.workflows.reading() as session:
                conn = session.connection()
                names = _Names(conn, self.reference, translate)
                for batch in conn.execute(query.execution_options(yield_per=BATCH)).partitions():
                    departments, overdue, ratings = _batch_facts(conn, names, [r.case_no for r in batch], now)
                    yield [_values(r, names, unmask, departments.get(r.case_no, []), r.case_no in overdue,
                                   ratings.get(r.case_no)) for r in batch]

        header = [translate(title) for title in COLUMNS]
        chunks = _csv_chunks if fmt == "csv" else _xlsx_chunks

        def audit_it(export: CaseExport) -> None:
            details = {"filters": filter_args(case_filter), "format": fmt, "rows": export.rows,
                       "complete": export.complete, "masked": not unmask}
            with self.workflows.transaction() as session:
                audit(session, principal.username, "case_export", clock.now(), None,
                      **details, **({"reason": reason} if unmask else {}))
                if unmask:
                    audit(session, principal.username, "unmask", clock.now(), None, reason=reason,
                          export=fmt, rows=export.rows, filters=details["filters"])

        return CaseExport(f"{translate(FILE_NAME)}-{started}.{fmt}", f"cases-{started}.{fmt}", FORMATS[fmt],
                          lambda export: _closing(chunks(export, header, batches(export), translate(TITLE))),
                          audit_it)


def _closing(chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    """The chunks, closed (and with them the rows' read transaction) before anything else happens when the
    client goes away — the audit row is written after, in a transaction of its own."""
    with closing(chunks):
        yield from chunks


def _csv_chunks(export: CaseExport, header: list[str], batches: Rows, _title: str) -> Generator[bytes, None, None]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    with closing(batches):
        yield ("\ufeff" + _drain(out)).encode("utf-8")
        for batch in batches:
            writer.writerows(batch)
            yield _drain(out).encode("utf-8")
            export.rows += len(batch)


def _xlsx_chunks(export: CaseExport, header: list[str], batches: Rows,
                 title: str) -> Generator[bytes, None, None]:
    from openpyxl import Workbook  # only exports need it

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    sheet.append(header)
    for batch in batches:
        for values in batch:
            sheet.append(values)
        export.rows += len(batch)  # a workbook is of use only whole: `complete` says whether it got out
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as saved:
        workbook.save(saved)
        saved.seek(0)
        yield from _file_chunks(saved)


def _file_chunks(saved: IO[bytes]) -> Iterator[bytes]:
    while chunk := saved.read(FILE_CHUNK):
        yield chunk


def _drain(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
