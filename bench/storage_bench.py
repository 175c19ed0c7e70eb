"""Bytes stored per closed case, per table (with its indexes; on PostgreSQL its TOAST too), SQLite and PostgreSQL.

Each scenario of bench/engine_bench.py that goes through the departments (one_department,
three_departments) runs on its own fresh database: the schema migrated (`engine.schema.upgrade`),
the demo county loaded and processes/relief_linkage.bpmn deployed through `CaseEngine` as
engine_bench does, then N cases run to their end with the scenario's decisions. Every table is
measured, the same measure of an empty database set up the same way (schema, demo county,
definition; in the same run) is subtracted, so only what the cases add counts, and the rest is
divided by N. Rows per case and the live bytes of the largest text and JSON columns are shown too
(on PostgreSQL also as stored, pg_column_size: compressed).

SQLite: after PRAGMA wal_checkpoint(TRUNCATE), the pages of each b-tree from the dbstat virtual
table, an index counted with its table (sqlite_master.tbl_name), and the file's other pages (free
ones) on a row of their own, so the total is the growth of the file. Without dbstat (or with
--no-dbstat): the growth of the file (page_count × page_size) as the total, and per table the bytes
of its values (sum of length()); what they leave out (indexes, page and record overhead, free
pages) is a row of its own. A table grows by whole pages (4 KiB), so small ones read 0 with few cases.
PostgreSQL: pg_total_relation_size of each table (heap, indexes, TOAST, free-space and visibility
maps) after CHECKPOINT, as the cases left it and again after a plain VACUUM, which turns dead row
versions (the old copies of a state rewritten at every step) into free space but does not shrink
the files (it does add a free-space and a visibility map, 32 KiB, to each table it finds rows in);
the TOAST table of process_instance (pg_relation_size) is shown on its own. With the pgstattuple
extension (created if it can be), the bytes of each heap and TOAST that hold no live row are shown
beside: dead row versions as-is (a lower bound: pruning on page access turns some into free space
already), free space after VACUUM. Autovacuum is off on the bench's tables, so every run is alike.

Usage: python bench/storage_bench.py [--cases N | --quick] [--database-url URL] [--no-dbstat]
--quick runs 20 cases per scenario instead of 200. A PostgreSQL URL must name a database whose name
contains "bench" or "test": its tables are dropped and recreated for each scenario. The last line
printed is `summary: name=value …` (KiB per case per scenario and of its biggest tables; on
PostgreSQL also after VACUUM, and process_instance's TOAST table with its dead bytes).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import JSON, Connection, String, make_url, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from bench.engine_bench import BPMN, SCENARIOS, engine_runner  # noqa: E402
from bench.scheduler_bench import bench_settings, fresh_database  # noqa: E402
from engine import db  # noqa: E402
from engine.cases.runtime import CaseEngine  # noqa: E402
from engine.models import Base  # noqa: E402
from engine.status import END_STATUSES  # noqa: E402

RUN = ("one_department", "three_departments")  # the scenarios of engine_bench measured here
CASES, QUICK_CASES = 200, 20
TOP_TABLES = 3  # tables per scenario named in the summary line
TOP_COLUMNS = 8
AS_IS, VACUUMED = "as-is", "after VACUUM"
FREE_PAGES = "(free pages)"
NOT_IN_VALUES = "(indexes, overhead, free pages)"
UNUSED = {AS_IS: "dead", VACUUMED: "free"}  # what PostgreSQL's heap and TOAST hold beside the live rows
PROCESS_TOAST = "process_instance TOAST"
SCHEMA_TABLES = ("JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relkind = 'r' AND n.nspname = current_schema()")


@dataclass
class Snapshot:
    """What one database holds: bytes per table under each measure, rows and column bytes."""

    method: str
    sizes: dict[str, dict[str, int]]  # measure (as-is, after VACUUM) → table → bytes
    rows: dict[str, int]
    columns: dict[str, tuple[int, int | None]]  # table.column → (bytes of the values, as stored on PostgreSQL)
    toast: dict[str, int] = field(default_factory=dict)  # measure → process_instance's TOAST table
    # PostgreSQL with pgstattuple: measure → table (heap and TOAST) → dead row versions as-is, free space after VACUUM
    unused: dict[str, dict[str, int]] = field(default_factory=dict)


def per_case(after: Mapping[str, int], before: Mapping[str, int], cases: int) -> dict[str, float]:
    """(after − before) / cases for every key of either, zero ones left out."""
    found = {k: (after.get(k, 0) - before.get(k, 0)) / cases for k in [*after, *(k for k in before if k not in after)]}
    return {k: v for k, v in found.items() if v}


def text_columns() -> Iterable[tuple[str, str]]:
    """(table, column) of every text and JSON column of the models."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | JSON):
                yield table.name, column.name


def column_bytes(conn: Connection) -> dict[str, tuple[int, int | None]]:
    """The bytes of the live values of every text and JSON column (PostgreSQL: also as stored)."""
    quote = conn.dialect.identifier_preparer.quote
    postgres = conn.dialect.name == "postgresql"
    found: dict[str, tuple[int, int | None]] = {}
    for table, column in text_columns():
        name = quote(column)
        sizes = (f"SUM(octet_length(CAST({name} AS TEXT))), SUM(pg_column_size({name}))" if postgres
                 else f"SUM(length(CAST({name} AS BLOB))), NULL")
        raw, stored = conn.execute(text(f"SELECT {sizes} FROM {quote(table)}")).one()
        found[f"{table}.{column}"] = (raw or 0, stored if postgres and stored is not None else None)
    return found


def row_counts(conn: Connection) -> dict[str, int]:
    """The number of rows of every table of the models."""
    quote = conn.dialect.identifier_preparer.quote
    return {t.name: conn.execute(text(f"SELECT COUNT(*) FROM {quote(t.name)}")).scalar_one()
            for t in Base.metadata.sorted_tables}


def sqlite_sizes(path: Path, use_dbstat: bool) -> tuple[str, dict[str, int]]:
    """The method and the bytes per table of an SQLite file, its WAL checkpointed into it first."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        file_bytes = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        if use_dbstat:
            try:
                return "dbstat: the pages of each table and its indexes", dbstat_sizes(conn, file_bytes)
            except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
                pass
        return ("length(): the bytes of each table's values; the total is the file (page_count × page_size)",
                value_sizes(conn, file_bytes))
    finally:
        conn.close()


def dbstat_sizes(conn: sqlite3.Connection, file_bytes: int) -> dict[str, int]:
    """The pages of each table's b-tree and its indexes' (dbstat), and the file's other pages."""
    pages = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    sizes: dict[str, int] = {}
    for name, size in pages:
        sizes[owner.get(name, name)] = sizes.get(owner.get(name, name), 0) + size
    sizes[FREE_PAGES] = file_bytes - sum(sizes.values())
    return sizes


def value_sizes(conn: sqlite3.Connection, file_bytes: int) -> dict[str, int]:
    """The bytes of each table's values (sum of length()), and the rest of the file."""
    sizes: dict[str, int] = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
        lengths = ", ".join(f'COALESCE(SUM(length(CAST("{c}" AS BLOB))), 0)' for c in columns)
        sizes[table] = sum(conn.execute(f'SELECT {lengths} FROM "{table}"').fetchone())
    sizes[NOT_IN_VALUES] = file_bytes - sum(sizes.values())
    return sizes


def postgres_sizes(conn: Connection) -> tuple[dict[str, int], int]:
    """The bytes of every table of the schema (pg_total_relation_size) and of process_instance's TOAST table."""
    sizes = dict(conn.execute(text(
        f"SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c {SCHEMA_TABLES}")).all())
    toast = conn.execute(text("SELECT pg_relation_size(reltoastrelid) FROM pg_class"
                              " WHERE oid = 'process_instance'::regclass")).scalar_one()
    return sizes, toast


def postgres_unused(conn: Connection, measure: str) -> dict[str, int]:
    """Per table, the bytes of its heap and TOAST that hold no live row (pgstattuple): dead row versions
    as-is, free space after VACUUM; process_instance's TOAST table also alone."""
    column = "dead_tuple_len" if measure == AS_IS else "free_space"
    found: dict[str, int] = {}
    for table, heap, toast in conn.execute(text(
            f"SELECT c.relname, h.{column}, t.{column} FROM pg_class c"
            f" CROSS JOIN LATERAL pgstattuple(c.oid::regclass) h"
            f" LEFT JOIN LATERAL pgstattuple(NULLIF(c.reltoastrelid, 0)::regclass) t ON true {SCHEMA_TABLES}")):
        found[table] = heap + (toast or 0)
        if table == "process_instance":
            found[PROCESS_TOAST] = toast or 0
    return found


def has_pgstattuple(conn: Connection) -> bool:
    """Whether the pgstattuple extension is (or could now be) installed in the database."""
    try:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
    except DBAPIError as error:
        print(f"pgstattuple unavailable, dead and free bytes not shown: {str(error.orig).strip()}")
        return False
    return True


def snapshot(url: str, use_dbstat: bool) -> Snapshot:
    """Measure the database at `url` as it is now (on PostgreSQL: as-is, then after a plain VACUUM)."""
    engine = db.get_engine(url)
    with engine.connect() as conn:
        rows, columns = row_counts(conn), column_bytes(conn)
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the pool's connections closed, the file and its WAL are the measure's alone
        method, sizes = sqlite_sizes(Path(make_url(url).database or ""), use_dbstat)
        return Snapshot(method, {AS_IS: sizes}, rows, columns)
    found = Snapshot("pg_total_relation_size: heap, indexes, TOAST, free-space and visibility maps", {}, rows, columns)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        stattuple = has_pgstattuple(conn)
        for measure in (AS_IS, VACUUMED):
            if measure == VACUUMED:
                conn.execute(text("VACUUM"))
            conn.execute(text("CHECKPOINT"))
            found.sizes[measure], found.toast[measure] = postgres_sizes(conn)
            if stattuple:
                found.unused[measure] = postgres_unused(conn, measure)
    return found


def prepared_database(database_url: str | None, tmp: Path, name: str) -> tuple[str, CaseEngine]:
    """A fresh database with the schema, the demo county and the deployed definition, and an engine on it."""
    url = fresh_database(database_url, tmp / name, 0)  # its own directory: the SQLite file's name is fixed
    if url.startswith("postgresql"):
        with db.get_engine(url).begin() as conn:
            for table in [*Base.metadata.tables, "alembic_version"]:
                conn.execute(text(f'ALTER TABLE "{table}" SET (autovacuum_enabled = off,'
                                  " toast.autovacuum_enabled = off)"))
    engine = CaseEngine(bench_settings(url, tmp / name))
    engine.accounts.load_demo_data()  # applications are checked against the county's regions
    engine.deploy(BPMN.read_bytes(), BPMN.name, "bench")
    return url, engine


def run_scenario(database_url: str | None, tmp: Path, name: str, cases: int) -> tuple[int, str]:
    """Run `cases` cases of a scenario to their end on a fresh database; return (steps per case, its URL)."""
    url, engine = prepared_database(database_url, tmp, name)
    run = engine_runner(engine)
    steps = 0
    for _ in range(cases):
        steps = run(SCENARIOS[name])
    with db.get_engine(url).connect() as conn:
        statuses = conn.execute(text("SELECT status, COUNT(*) FROM process_instance GROUP BY status")).all()
    assert sum(n for s, n in statuses if s in END_STATUSES) == cases, f"cases not closed: {statuses}"
    return steps, url


@dataclass
class Scenario:
    """What one scenario's cases added to the empty database, per case."""

    name: str
    steps: int
    method: str
    sizes: dict[str, dict[str, float]]  # measure → table → bytes
    rows: dict[str, float]
    columns: dict[str, tuple[float, float | None]]  # table.column → (bytes of the values, as stored)
    toast: dict[str, float]  # measure → bytes of process_instance's TOAST table
    unused: dict[str, dict[str, float]]  # measure → table → dead (as-is) or free (after VACUUM) bytes

    @property
    def short(self) -> str:
        """The scenario's name in the summary line: one, three."""
        return self.name.split("_")[0]


def measure_scenario(database_url: str | None, tmp: Path, name: str, cases: int, empty: Snapshot,
                     use_dbstat: bool) -> Scenario:
    """Run a scenario on its own database and return what it added to `empty`, per case."""
    steps, url = run_scenario(database_url, tmp, name, cases)
    found = snapshot(url, use_dbstat)
    columns = {c: ((raw - empty.columns[c][0]) / cases,
                   None if stored is None else (stored - (empty.columns[c][1] or 0)) / cases)
               for c, (raw, stored) in found.columns.items()}
    sizes = {m: per_case(found.sizes[m], empty.sizes[m], cases) for m in found.sizes}
    unused = {m: per_case(found.unused[m], empty.unused[m], cases) for m in found.unused}
    return Scenario(name, steps, found.method, sizes, per_case(found.rows, empty.rows, cases), columns,
                    per_case(found.toast, empty.toast, cases), unused)


def print_scenario(result: Scenario, cases: int) -> None:
    """Print one row per table (bytes per case and share under each measure, rows per case) and the total."""
    sizes, measures, unused = result.sizes, list(result.sizes), result.unused
    totals = {m: sum(sizes[m].values()) for m in measures}
    spare = {m: sum(v for t, v in unused.get(m, {}).items() if t != PROCESS_TOAST) for m in measures}

    def cells(m: str, size: float, share: str, dead_or_free: float) -> str:
        return f"{size:>22,.0f}{share:>8}" + (f"{dead_or_free:>14,.0f}" if m in unused else "")

    print(f"\n{result.name}: {cases} cases of {result.steps} steps; {result.method}")
    print(f"{'table':<34}" + "".join(f"{m + ' B/case':>22}{'share':>8}"
                                     + (f"{UNUSED[m] + ' B/case':>14}" if m in unused else "") for m in measures)
          + f"{'rows/case':>11}")
    first = sizes[measures[0]]
    for table in sorted({*result.rows, *(t for m in measures for t in sizes[m])}, key=lambda t: -first.get(t, 0)):
        row = "".join(cells(m, sizes[m].get(table, 0), f"{100 * sizes[m].get(table, 0) / totals[m]:.1f}%",
                            unused.get(m, {}).get(table, 0)) for m in measures)
        print(f"{table:<34}{row}{result.rows.get(table, 0):>11.1f}")
    print((f"{'total':<34}" + "".join(cells(m, totals[m], "", spare[m]) for m in measures)).rstrip())
    print((f"{'total KiB':<34}" + "".join(f"{totals[m] / 1024:>22.1f}{'':>8}" + (" " * 14 if m in unused else "")
                                          for m in measures)).rstrip())


def print_columns(result: Scenario) -> None:
    """Print the largest text and JSON columns per case, and process_instance's TOAST table."""
    stored = any(s is not None for _, s in result.columns.values())
    print(f"\nbiggest columns, live values per case{' (stored: pg_column_size, compressed)' if stored else ''}:")
    for column, (raw, as_stored) in sorted(result.columns.items(), key=lambda c: -c[1][0])[:TOP_COLUMNS]:
        print(f"  {column:<32}{raw:>12,.0f} B" + (f"{as_stored:>12,.0f} B stored" if as_stored is not None else ""))
    for measure, size in result.toast.items():
        spare = result.unused.get(measure, {}).get(PROCESS_TOAST)
        print(f"  process_instance TOAST table (pg_relation_size), {measure}: {size:,.0f} B/case"
              + (f", of which {UNUSED[measure]} {spare:,.0f} B" if spare is not None else ""))


def summary_line(database: str, cases: int, results: list[Scenario]) -> str:
    """The summary: KiB per case of each scenario and of its biggest tables; on PostgreSQL also after VACUUM,
    and process_instance's TOAST table with its dead bytes."""
    found = {"database": database, "cases": str(cases), "method": results[0].method.split(":")[0]}
    found.update({f"{r.name}_kib": kib(sum(r.sizes[AS_IS].values())) for r in results})
    biggest: dict[str, float] = {}
    for r in results:
        tables = sorted((t for t in r.sizes[AS_IS] if not t.startswith("(")), key=lambda t: -r.sizes[AS_IS][t])
        for table in tables[:TOP_TABLES]:
            biggest[table] = max(biggest.get(table, 0), r.sizes[AS_IS][table])
    for table in sorted(biggest, key=lambda t: -biggest[t]):
        found.update({f"{table}_{r.short}_kib": kib(r.sizes[AS_IS].get(table, 0)) for r in results})
    for r in results:
        if VACUUMED in r.sizes:
            found[f"{r.name}_vacuumed_kib"] = kib(sum(r.sizes[VACUUMED].values()))
    for r in results:
        if r.toast:
            found[f"process_instance_toast_{r.short}_kib"] = kib(r.toast.get(AS_IS, 0))
            found[f"process_instance_toast_{r.short}_vacuumed_kib"] = kib(r.toast.get(VACUUMED, 0))
        if r.unused:
            found[f"process_instance_toast_dead_{r.short}_kib"] = kib(r.unused[AS_IS].get(PROCESS_TOAST, 0))
    return "summary: " + " ".join(f"{k}={v}" for k, v in found.items())


def kib(size: float) -> str:
    """Bytes as KiB with one decimal, for the summary line."""
    return f"{size / 1024:.1f}"


def main() -> None:
    """Measure an empty database, then every scenario on its own, and print the tables and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES, help="cases per scenario")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CASES} cases per scenario (a smoke run)")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file per scenario in a temp dir")
    parser.add_argument("--no-dbstat", action="store_true", help="SQLite: measure as if dbstat were not compiled in")
    args = parser.parse_args()
    cases = QUICK_CASES if args.quick else args.cases
    database = (args.database_url or "sqlite").split("://")[0].split("+")[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        empty_url, _ = prepared_database(args.database_url, Path(tmp), "empty")
        empty = snapshot(empty_url, not args.no_dbstat)
        print(f"database: {database}, cases per scenario: {cases}; the empty database: "
              + ", ".join(f"{m} {sum(s.values()) / 1024:,.1f} KiB" for m, s in empty.sizes.items()), flush=True)
        for name in RUN:
            results.append(measure_scenario(args.database_url, Path(tmp), name, cases, empty, not args.no_dbstat))
            print_scenario(results[-1], cases)
            print_columns(results[-1])
    print(summary_line(database, cases, results))


if __name__ == "__main__":
    main()
