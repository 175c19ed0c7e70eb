"""A scheduler tick must cost time in proportion to the due tasks, not the open ones (issue 4).

For each size (1k, 10k, 100k open tasks by default) on a fresh database: 100 real cases are
started through `CaseEngine` on Monday 2026-03-02 and dispatched to a department, so each has an
open 受理告知 task (3 working days) and a department-overrun timer (15 working days). The other
open tasks are bulk-inserted (SQLAlchemy Core executemany) into application, process_instance,
human_task and human_task_group with realistic columns: due at the end of a working day 2–20
working days ahead, BPMN timers later still. `engine.deadlines.tick` then runs once at a moment
when exactly the 100 real tasks are overdue and their 100 timers are due (the timers raise 100
督办 tasks due within a working day, reminded in the same tick), and again a minute
later when nothing new is due (the fixed cost of a tick); on SQLite three times, on copies of the
same file, and the median is shown. The statements of the tick are captured and their query
plans printed, to check that they read through indexes.

Usage: python bench/scheduler_bench.py [--sizes 1000,10000,100000] [--due 100] [--repeat 3]
                                       [--quick] [--database-url URL]
--quick is a smoke run: sizes 1000,10000 and one tick each. A PostgreSQL URL must name a database
whose name contains "bench" or "test": its tables are dropped and recreated for each size. The
last line printed is `summary: name=value …` (tick seconds per size, the ratios, flagged plans).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, inspect, make_url, select, text  # noqa: E402

from engine import clock, db, schema, tables  # noqa: E402
from engine.access.accounts import load_demo_data  # noqa: E402
from engine.cases import store  # noqa: E402
from engine.cases.runtime import PROCESS_KEY, CaseEngine  # noqa: E402
from engine.clock import LOCAL_TZ  # noqa: E402
from engine.deadlines.due import reminder_bound  # noqa: E402
from engine.deadlines.jobs import tick  # noqa: E402
from engine.deadlines.workcal import WorkCalendar  # noqa: E402
from engine.models import Base  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.status import READY  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
APPLICATION = tables.APPLICATION
STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)  # Monday; the real cases start here
# Department work started Monday 03-02 overruns 15 working days later, at the end of Monday 03-23.
TICK_AT = datetime(2026, 3, 24, 10, 0, tzinfo=LOCAL_TZ)
DEPARTMENTS = ("minzheng", "yibao", "jiaoyu", "canlian", "zhujian", "renshe", "hongshizihui", "zonggonghui",
               "sifa", "yingji")
REGIONS = (("T01", "T01V01"), ("T01", "T01V02"), ("T02", "T02V01"), ("T02", "T02V02"))
APPLICANT = {"name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
             "region": {"township": "T01", "village": "T01V01"}, "request": "因病致贫，申请医疗救助"}
# (task_spec, name, form key, whose group: center / department / field / joint office), weighted
# roughly as open work sits in a county: most of it with the departments.
TASK_KINDS = (("triage", "一门受理·初步研判", "center"), ("joint_plan", "联动救助方案", "joint_office"),
              ("dept_accept", "受理告知", "department"), ("dept_accept", "受理告知", "department"),
              ("field_report", "处理上报", "field"), ("dept_result", "办结反馈", "department"),
              ("dept_result", "办结反馈", "department"), ("dept_result", "办结反馈", "department"))
CHUNK = 10_000
QUICK = {"sizes": "1000,10000", "repeat": 1}  # what --quick sets


@dataclass
class Result:
    """What one size measured."""

    open_tasks: int
    overdue: int
    timers: int
    reminders: int
    tick_seconds: float  # median over the runs
    idle_seconds: float
    tick_spread: float  # slowest minus fastest run
    runs: int
    build_seconds: float
    due_within_horizon: int


def bench_settings(url: str, tmp: Path) -> Settings:
    """The engine's settings for a run: the database, the rest from the environment; the SMS and
    12345 logs the tick's deliveries write go to the temp dir, not the project's instance/."""
    return Settings.from_environ(DATABASE_URL=url, INSTANCE_DIR=str(tmp))


def fresh_database(url: str | None, tmp: Path, size: int) -> str:
    """A new SQLite file, or the given PostgreSQL database emptied; migrated to the newest schema."""
    url = empty_database(url, tmp / f"scheduler-{size}.db")
    schema.upgrade(url)
    return url


def empty_database(url: str | None, sqlite_file: Path) -> str:
    """`sqlite_file` (new) when no URL is given, else the given PostgreSQL database with every table dropped
    — refused unless its name says it is one for benches or tests."""
    if url is None:
        return f"sqlite:///{sqlite_file}"
    name = make_url(url).database or ""
    if "bench" not in name and "test" not in name:
        sys.exit(f"refusing to empty database {name!r}: its name must contain 'bench' or 'test'")
    with db.get_engine(url).begin() as conn:
        Base.metadata.drop_all(conn)
        if inspect(conn).has_table("alembic_version"):
            conn.execute(text("DROP TABLE alembic_version"))
    return url


def start_real_cases(engine: CaseEngine, count: int) -> None:
    """Start `count` cases and dispatch each to one department, all at STARTED."""
    with clock.frozen_at(STARTED):
        for i in range(count):
            case_no, _ = engine.start_case(APPLICANT, "window", "village", actor="clerk_v", org="T01V01")
            [triage] = engine.queries.list_tasks(case_no=case_no)
            engine.complete_task(triage["id"], "center1",
                                 {"decision": "eligible", "departments": [DEPARTMENTS[i % len(DEPARTMENTS)]]})


def working_day_ends(engine: CaseEngine, first: int, last: int) -> list[datetime]:
    """Due moments (23:59:59 local) from `first` to `last` working days after TICK_AT."""
    return [engine.calendar.add_workdays(TICK_AT, n) for n in range(first, last + 1)]


def bulk_rows(engine: CaseEngine, count: int, definition_id: int, first_id: int,
              seed: int = 4012) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(application, instance, task, task group) rows of `count` open cases, none of them due at TICK_AT."""
    rng = random.Random(seed)
    # Due on the 2nd working day or later: not overdue, not within the one-day reminder window.
    due_moments = working_day_ends(engine, 2, 20)
    timer_moments = working_day_ends(engine, 5, 40)
    for i in range(count):
        created = TICK_AT - timedelta(days=rng.uniform(1, 60))
        case_no = f"SJ{created.astimezone(LOCAL_TZ):%Y%m%d}{9000 + i // 1000:04d}{i % 1000:03d}"
        township, village = REGIONS[i % len(REGIONS)]
        spec, name, whose = TASK_KINDS[i % len(TASK_KINDS)]
        department = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
        group = {"center": "center", "joint_office": "joint_office", "department": department,
                 "field": rng.choice((township, village))}[whose]
        context = {"channel": "window", "green_channel": i % 50 == 0, "region": {"township": township,
                                                                                   "village": village}}
        if whose in ("department", "field"):
            context["department"] = department
        yield ({"case_no": case_no, "channel": "window", "level": "village", "green_channel": i % 50 == 0,
                "applicant_name": "李四", "id_number": "34052419800101001X", "phone": "13800138000",
                "township": township, "village": village, "address": "东湖社区 1 号", "request": "申请临时救助",
                "matters": ["temporary_assistance"], "created_at": created, "registered_by": "clerk_v",
                "registered_org": village, "query_code_hash": None},
               {"id": first_id + i, "definition_id": definition_id, "case_no": case_no, "status": "open",
                "state": "{}", "serializer_version": engine.workflows.serializer.version, "started_at": created,
                "ended_at": None, "next_timer_at": rng.choice(timer_moments), "lock_version": 1},
               {"id": f"bulk-{i:08d}", "instance_id": first_id + i, "case_no": case_no, "task_spec": spec,
                "name": name, "form_key": spec, "candidate_groups": [group], "context": context,
                "assignee": None, "state": READY, "created_at": created, "due_at": rng.choice(due_moments),
                "completed_at": None, "completed_by": None, "data": None, "overdue_since": None,
                "reminded_at": None},
               {"task_id": f"bulk-{i:08d}", "group_code": group})


def bulk_insert(engine: CaseEngine, url: str, count: int) -> None:
    """Insert `count` open cases with one open task each, CHUNK rows per executemany."""
    targets = (APPLICATION, tables.INSTANCE, tables.TASK, tables.TASK_GROUP)
    with db.get_engine(url).begin() as conn:
        definition_id = conn.execute(select(tables.DEFINITION.c.id).where(
            tables.DEFINITION.c.key == PROCESS_KEY)).scalar_one()
        first_id = (conn.execute(select(func.max(tables.INSTANCE.c.id))).scalar() or 0) + 1
        rows = bulk_rows(engine, count, definition_id, first_id)
        while chunk := list(islice(rows, CHUNK)):
            for table, values in zip(targets, zip(*chunk, strict=True), strict=True):
                conn.execute(insert(table), list(values))
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT max(id) FROM process_instance))"))
            conn.execute(text("ANALYZE"))


@contextmanager
def captured_statements(url: str) -> Iterator[dict[str, Any]]:
    """Collect the distinct SELECT/UPDATE statements run inside the block, with their first parameters."""
    seen: dict[str, Any] = {}

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            seen.setdefault(statement, parameters[0] if many else parameters)

    engine = db.get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plans(url: str, statements: dict[str, Any],
                tables_read: Sequence[str] = ("human_task", "process_instance")) -> list[tuple[str, list[str]]]:
    """EXPLAIN (QUERY PLAN) each captured statement that reads or updates one of `tables_read`."""
    plans = []
    with db.get_engine(url).connect() as conn:
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        for statement, parameters in statements.items():
            if not any(f"{verb} {t}" in statement for t in tables_read for verb in ("FROM", "UPDATE")):
                continue
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            plans.append((statement, [str(row[-1]) for row in rows]))
        conn.rollback()
    return plans


def due_within_horizon(url: str, settings: Settings) -> int:
    """Open tasks the reminder query reads at TICK_AT (due before the one-working-day bound)."""
    task = tables.TASK
    bound = reminder_bound(TICK_AT, WorkCalendar.load(settings.calendar_file))
    with db.get_engine(url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(task).where(
            task.c.state == READY, task.c.due_at >= TICK_AT, task.c.due_at < bound,
            task.c.reminded_at.is_(None))).scalar_one())


def build(url: str, settings: Settings, open_tasks: int, due: int) -> float:
    """Fill a fresh database with `open_tasks` open tasks, `due` of them real and due; return seconds taken."""
    with db.transaction(db.session_factory(url)) as session:
        load_demo_data(session, settings, STARTED)  # the county's regions: applications are checked against them
    builder = CaseEngine(settings)
    builder.deploy(BPMN.read_bytes(), BPMN.name, "bench")
    started = time.perf_counter()
    start_real_cases(builder, due)
    bulk_insert(builder, url, open_tasks - due)
    return time.perf_counter() - started


def time_ticks(url: str, settings: Settings) -> tuple[dict[str, Any], float, float, dict[str, Any]]:
    """Run the tick at TICK_AT and an idle one a minute later: (report, seconds, idle seconds, statements)."""
    # The scheduler is its own process: no cached workflows, but a parsed spec and a warm calendar.
    scheduler = CaseEngine(settings, reuse_workflows=False)
    with db.transaction(scheduler.sessions) as session:
        definition = store.latest_definition_id(session.connection(), PROCESS_KEY)
        assert definition is not None
        scheduler.specs.get_by_id(session, definition[0])
    scheduler.calendar.add_workdays(TICK_AT, 40)
    with captured_statements(url) as statements:
        began = time.perf_counter()
        report = tick(scheduler, TICK_AT)
        seconds = time.perf_counter() - began
    began = time.perf_counter()
    idle = tick(scheduler, TICK_AT + timedelta(minutes=1))
    idle_seconds = time.perf_counter() - began
    assert not idle["tasks_flagged"] and not idle["timers_fired"], idle
    return report, seconds, idle_seconds, statements


def measure(database_url: str | None, tmp: Path, open_tasks: int, due: int,
            repeats: int) -> tuple[Result, list[tuple[str, list[str]]]]:
    """Build one size on a fresh database and time its tick, on copies of the SQLite file when repeating."""
    url = fresh_database(database_url, tmp, open_tasks)
    settings = bench_settings(url, tmp)
    built = build(url, settings, open_tasks, due)
    due_soon = due_within_horizon(url, settings)
    path = Path(make_url(url).database or "") if url.startswith("sqlite") else None
    snapshot = tmp / "snapshot.db"
    if path is not None:
        db.get_engine(url).dispose()  # closes the WAL, so the file alone is the database
        shutil.copy(path, snapshot)
    runs = []
    for attempt in range(repeats if path is not None else 1):
        if attempt and path is not None:
            db.get_engine(url).dispose()
            for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            shutil.copy(snapshot, path)
        runs.append(time_ticks(url, settings))
    assert len({(len(r[0]["tasks_flagged"]), len(r[0]["timers_fired"])) for r in runs}) == 1, "runs differ"
    plans = query_plans(url, runs[0][3])
    db.get_engine(url).dispose()
    report = runs[0][0]
    result = Result(open_tasks, len(report["tasks_flagged"]), len(report["timers_fired"]), len(report["reminders"]),
                    statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs),
                    max(r[1] for r in runs) - min(r[1] for r in runs), len(runs), built, due_soon)
    return result, plans


def print_table(results: Sequence[Result], due: int) -> None:
    """Print one row per size and the ratio of the largest size to the smallest."""
    print(f"\n{'open tasks':>11}{'overdue':>9}{'timers':>8}{'reminders':>10}{'tick s':>9}{'spread s':>10}"
          f"{'ms/due task':>13}{'idle tick s':>13}{'reminder reads':>16}{'build s':>9}")
    for r in results:
        print(f"{r.open_tasks:>11,}{r.overdue:>9}{r.timers:>8}{r.reminders:>10}{r.tick_seconds:>9.3f}"
              f"{r.tick_spread:>10.3f}{1000 * r.tick_seconds / due:>13.2f}{r.idle_seconds:>13.4f}"
              f"{r.due_within_horizon:>16,}{r.build_seconds:>9.1f}")
    first, last = results[0], results[-1]
    print(f"tick s: median of {first.runs} run(s) on copies of the same database; spread = slowest − fastest; "
          "idle tick: the same scheduler a minute later, nothing due")
    print(f"ratio {last.open_tasks:,} / {first.open_tasks:,} open tasks (×{last.open_tasks / first.open_tasks:.0f}): "
          f"tick {last.tick_seconds / first.tick_seconds:.2f}, idle tick {last.idle_seconds / first.idle_seconds:.2f}")


# Indexes on a column with a handful of values: using one alone reads every open row.
COARSE_INDEXES = ("ix_human_task_state", "ix_process_instance_status")


def short_sql(statement: str) -> str:
    """A statement on one line, its parameters as ?, its column list and IN-lists abbreviated."""
    # psycopg's placeholders look like %(name)s::TYPE
    sql = re.sub(r"%\(\w+\)s(::(?:TIMESTAMP WITH TIME ZONE|[A-Z]+))?", "?", " ".join(statement.split()))
    sql = re.sub(r"^SELECT (.{60,}?) FROM", "SELECT … FROM", sql)
    return re.sub(r"\((?:[^(),]+, ){3,}[^(),]+\)", "(…)", sql)


def plan_warning(line: str) -> str:
    """Why a plan line reads more than the due rows, or '' when it does not."""
    big_tables = ("human_task", "process_instance")
    if line.startswith(tuple(f"SCAN {t}" for t in big_tables)) or (
            "Seq Scan on" in line and any(t in line for t in big_tables)):
        return "!! full scan: "
    if any(re.search(rf"\b{index}\b", line) for index in COARSE_INDEXES):
        return "!! reads every open row: "
    return ""


def flagged_plan_lines(plans: list[tuple[str, list[str]]]) -> int:
    """How many plan lines `plan_warning` flags (0: every read of the big tables goes through a narrow index)."""
    return sum(bool(plan_warning(line)) for _statement, plan in plans for line in plan)


def print_summary(results: Sequence[Result], plans: list[tuple[str, list[str]]], database: str, due: int) -> None:
    """The one-line summary: tick and idle seconds per size, the ratios largest/smallest, flagged plan lines."""
    first, last = results[0], results[-1]
    values: dict[str, Any] = {"database": database, "due": due, "runs": first.runs}
    for r in results:
        values[f"tick_s_{r.open_tasks}"] = f"{r.tick_seconds:.4f}"
        values[f"idle_s_{r.open_tasks}"] = f"{r.idle_seconds:.4f}"
    values.update(overdue=last.overdue, timers=last.timers, reminders=last.reminders,
                  tick_ratio=f"{last.tick_seconds / first.tick_seconds:.2f}",
                  idle_ratio=f"{last.idle_seconds / first.idle_seconds:.2f}",
                  flagged_plan_lines=flagged_plan_lines(plans))
    print("summary: " + " ".join(f"{k}={v}" for k, v in values.items()))


def print_plans(plans: list[tuple[str, list[str]]], open_tasks: int) -> None:
    """Print the plan of each statement; flag reads of the big tables that no index narrows to the due rows."""
    print(f"\nquery plans of the tick's statements ({open_tasks:,} open tasks):")
    for statement, plan in plans:
        print(f"\n  {short_sql(statement)}")
        for line in plan:
            shown = re.sub(r"'[{][^}]{60,}[}]'", "'{…}'", line)  # PostgreSQL's literal id arrays
            print(f"    {plan_warning(line)}{shown}")


def main() -> None:
    """Measure every size in one run and print the table and the plans."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="open tasks per run, comma-separated")
    parser.add_argument("--due", type=int, default=100, help="tasks (and timers) due at the tick")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file per size")
    parser.add_argument("--repeat", type=int, default=3, help="ticks per size on copies of the database (SQLite)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: --sizes {QUICK['sizes']} --repeat {QUICK['repeat']}")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeat = QUICK["sizes"], QUICK["repeat"]
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[Result] = []
    plans: list[tuple[str, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # A discarded first run: the first tick in a process also pays for one-off imports and caches.
        measure(args.database_url, Path(tmp), args.due, args.due, 1)
        for size in sizes:
            result, plans = measure(args.database_url, Path(tmp), size, args.due, args.repeat)
            results.append(result)
            print(f"{size:,} open tasks: tick {result.tick_seconds:.3f} s", flush=True)
    print(f"database: {(args.database_url or 'sqlite').split('://')[0]}; tick at {TICK_AT.isoformat()}; "
          f"{args.due} real cases overdue with due timers")
    print_table(results, args.due)
    print_plans(plans, sizes[-1])
    print_summary(results, plans, (args.database_url or "sqlite").split("://")[0].split("+")[0], args.due)


if __name__ == "__main__":
    main()
