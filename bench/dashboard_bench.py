"""The dashboard at county scale: 1,000,000 cases and 5,000,000 tasks (issue 14, R-6.4.1).

A fresh database is migrated and filled in bulk — SQLAlchemy Core executemany in batches on SQLite, COPY
(psycopg's `cursor.copy`) on PostgreSQL — with a county of 12 townships of 15 villages, ten departments and
the catalog's matters: cases registered over the last 400 days at every hour, from every channel and level;
a fifth still open, most closed (办结), some declined or terminated; five tasks each (the center's triage, a
department's acceptance, a village's report, the department's result with an amount, the center's
summary), some of them late. The dashboard's fact rows are then computed by the product's own
`facts.rebuild_case_facts` and its tally by `facts.rebuild_tally` (each timed on its own), and the planner's
statistics refreshed.

Each chart is then timed through `CaseEngine.dashboard.chart` — what `/dashboard/data/<chart>` calls, a
request less Flask — with a mix of filters (none, a township, a department, a month, a matter) for the
center and, unfiltered, for a department and a township user: p50/p95 in ms per chart over all of them.
Then, every chart of each request beyond the mix (OTHERS: other filters and pairs), and the grid: every
combination of the issue's filters (period, 乡镇, 事项, 渠道, 部门) for the center and of up to two of them
for a township's, a department's and a village's staff, 80 requests, with how many miss the target (300 ms
on PostgreSQL, 1 s on SQLite).
Two baselines in the same run, timed fewer times: the same charts read from the per-case fact rows alone
(`per_case=True`, the design before the tally), and the plain aggregate over the base tables (application ⋈
process_instance, human_task ⋈ human_task_group) under `scoping.case_filter` and `case_query.filter_clause`,
whose totals are checked against the dashboard's.

Usage: python bench/dashboard_bench.py [--cases N] [--repeat N] [--quick] [--database-url URL] [--keep PATH]
       [--reuse] [--seed-only] [--others-repeat N] [--grid-repeat N]
--reuse: the database (--keep's SQLite file, or the PostgreSQL URL) already holds the seeded cases: time only.
--seed-only: seed the database (to reuse later) and time nothing.
--quick: 50,000 cases (250,000 tasks). A PostgreSQL URL must name a database whose name contains "bench" or
"test": its tables are dropped and recreated. The last line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from inbox_bench import CHANNELS, DEPARTMENTS, TOWNSHIPS, VILLAGES, county  # noqa: E402
from scheduler_bench import fresh_database  # noqa: E402
from sqlalchemy import Connection, String, and_, cast, func, insert, literal_column, select, text  # noqa: E402

from engine import clock, db, schema, tables  # noqa: E402
from engine.access import scoping  # noqa: E402
from engine.cases.case_query import filter_clause, parse_filter  # noqa: E402
from engine.cases.runtime import PROCESS_KEY, CaseEngine  # noqa: E402
from engine.clock import LOCAL_TZ  # noqa: E402
from engine.dashboard import facts  # noqa: E402
from engine.dashboard.service import CHART_NAMES  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.status import CANCELLED, COMPLETED, READY  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ)
MATTERS = ("dibao", "dibao_bianyuan", "tekun", "linshi", "yiliao", "jiaoyu_zizhu")
LEVELS = ("village", "village", "township", "county")
# status → weight: a fifth open, most closed
STATUSES = (("open",) * 20 + ("closed_completed",) * 65 + ("closed_declined",) * 10 + ("terminated",) * 5)
STEPS = (("triage", "一门受理·初步研判", "center"), ("dept_accept", "受理告知", "department"),
         ("field_report", "处理上报", "village"), ("dept_result", "办结反馈", "department"),
         ("summary", "汇总办结", "center"))
BATCH = 20_000  # cases per bulk insert
QUICK = {"cases": 50_000, "repeat": 20}
MONTH = (date(2026, 6, 1), date(2026, 6, 30))
FILTERS: list[tuple[str, dict[str, str]]] = [
    ("none", {}), ("township", {"township": "T03"}), ("department", {"department": "minzheng"}),
    ("month", {"date_from": MONTH[0].isoformat(), "date_to": MONTH[1].isoformat()}), ("matter", {"matter": "dibao"})]
SCOPED_USERS = ("mz1", "town1")  # unfiltered, besides the center's mix
# Requests beyond the mix, timed apart: the tally's other slices (救助类型 and a status with a level among them),
# and what reads the fact rows (村, two filters at once, a village's scope; two broad ones last).
OTHERS: list[tuple[str, str, dict[str, str]]] = [
    ("level", "center1", {"level": "village"}), ("status", "center1", {"status": "completed"}),
    ("green", "center1", {"green": "1"}), ("quarter+channel", "center1", {
        "date_from": "2026-04-01", "date_to": "2026-06-30", "channel": "online"}),
    ("village", "center1", {"village": "T03V01"}), ("assistance_type", "center1", {"assistance_type": "dibao"}),
    ("township+matter", "center1", {"township": "T03", "matter": "dibao"}),
    ("level+status", "center1", {"level": "village", "status": "completed"}),
    ("village user", "village1", {}), ("department+township", "mz1", {"township": "T03"}),
    ("township+channel", "center1", {"township": "T03", "channel": "online"}),
    ("township+department", "center1", {"township": "T03", "department": "minzheng"}),
    ("department+status", "center1", {"department": "minzheng", "status": "running"}),
    ("township user+matter", "town1", {"matter": "dibao"}), ("department user+matter", "mz1", {"matter": "dibao"}),
    ("matter+status", "center1", {"matter": "dibao", "status": "completed"}),
    ("channel+level", "center1", {"channel": "online", "level": "village"})]
# The issue's filters (period, 乡镇, 事项, 渠道, 部门): every combination of them for the center, and of up to
# two for a township's, a department's and a village's staff — the grid timed after OTHERS.
ISSUE_FILTERS: dict[str, dict[str, str]] = {
    "period": {"date_from": MONTH[0].isoformat(), "date_to": MONTH[1].isoformat()}, "township": {"township": "T03"},
    "matter": {"matter": "dibao"}, "channel": {"channel": "online"}, "department": {"department": "minzheng"}}
GRID_USERS = (("center1", len(ISSUE_FILTERS)), ("town1", 2), ("mz1", 2), ("village1", 2))
TARGET_MS = {"postgresql": 300.0, "sqlite": 1000.0}  # the issue's p95 per request


def grid() -> list[tuple[str, str, dict[str, str]]]:
    """The grid's requests: (label, user, filter)."""
    found = []
    for user, most in GRID_USERS:
        for size in range(most + 1):
            for names in itertools.combinations(ISSUE_FILTERS, size):
                args = {key: value for name in names for key, value in ISSUE_FILTERS[name].items()}
                found.append((f"{user}:{'+'.join(names) or 'none'}", user, args))
    return found


def _case(i: int, rng: random.Random, definition_id: int, version: str) -> tuple[dict[str, Any], ...]:
    township = TOWNSHIPS[rng.randrange(len(TOWNSHIPS))]
    village = VILLAGES[township][rng.randrange(15)]
    registered = (NOW - timedelta(days=rng.uniform(0, 400))).replace(hour=rng.randrange(24))
    state = rng.choice(STATUSES)
    ended = None if state == "open" else registered + timedelta(hours=rng.uniform(2, 24 * 40))
    case_no = f"SJ{i:09d}"
    matters = [MATTERS[rng.randrange(len(MATTERS))]] + ([rng.choice(MATTERS)] if rng.random() < 0.2 else [])
    application = {"case_no": case_no, "channel": rng.choice(CHANNELS), "level": rng.choice(LEVELS),
                   "green_channel": rng.random() < 0.02, "applicant_name": "李四", "id_number": "34052419800101001X",
                   "phone": "13800138000", "township": township, "village": village, "address": "1 号",
                   "request": "申请救助", "matters": list(dict.fromkeys(matters)), "situation": {},
                   "created_at": registered, "registered_by": "clerk_v", "registered_org": village,
                   "query_code_hash": None}
    instance = {"id": i, "definition_id": definition_id, "case_no": case_no, "status": state, "state": "",
                "state_archive": None, "serializer_version": version, "started_at": registered, "ended_at": ended,
                "next_timer_at": None, "supplement_since": None, "lock_version": 1}
    return application, instance


def _steps(rng: random.Random, status: str) -> list[tuple[str, str, str, str]]:
    """(form key, name, whose, state) of a case's tasks: an open case up to its open step, a terminated one
    cancelled after the field report, a declined one refused by its department; a quarter of the closed cases
    with a second department (about five tasks a case in all)."""
    steps = [(*step, COMPLETED) for step in STEPS]
    if status == "open":
        k = rng.randrange(1, 5)
        return [*steps[:k], (*STEPS[k], READY)]
    if status == "terminated":
        return [*steps[:3], (*STEPS[3], CANCELLED)]
    if status == "closed_completed" and rng.random() < 0.25:
        return [*steps[:4], (*STEPS[1][:2], "second", COMPLETED), (*STEPS[3][:2], "second", COMPLETED), steps[4]]
    return steps


def _tasks(i: int, rng: random.Random, app: dict[str, Any], inst: dict[str, Any]) -> Iterator[tuple[dict[str, Any],
                                                                                                      dict[str, Any]]]:
    first, second = rng.sample(DEPARTMENTS, 2)
    groups = {"center": "center", "department": first, "second": second, "village": app["village"]}
    at = app["created_at"]
    for n, (spec, name, whose, state) in enumerate(_steps(rng, inst["status"])):
        due = at + timedelta(days=rng.uniform(1, 10))
        completed = at + timedelta(hours=rng.uniform(1, 24 * 12)) if state != READY else None
        data = {"amount": rng.choice((0, 300, 500, 800, 1200))} if spec == "dept_result" and state == COMPLETED \
            else None
        task_id = f"t{i:09d}{n}"
        yield ({"id": task_id, "instance_id": inst["id"], "case_no": app["case_no"], "task_spec": spec, "name": name,
                "form_key": spec, "candidate_groups": [groups[whose]], "context": {}, "assignee": None,
                "state": state, "created_at": at, "due_at": due, "completed_at": completed,
                "completed_by": "center1" if state == COMPLETED else None, "data": data,
                "overdue_since": due if state == READY and due < NOW else None, "reminded_at": None},
               {"task_id": task_id, "group_code": groups[whose]})
        at = completed or at


def batches(cases: int, definition_id: int, version: str, seed: int = 6041) -> Iterator[list[list[dict[str, Any]]]]:
    """(applications, instances, tasks, groups) of BATCH cases at a time."""
    rng = random.Random(seed)
    for start in range(1, cases + 1, BATCH):
        parts: list[list[dict[str, Any]]] = [[], [], [], []]
        for i in range(start, min(cases + 1, start + BATCH)):
            app, inst = _case(i, rng, definition_id, version)
            parts[0].append(app)
            parts[1].append(inst)
            for task, group in _tasks(i, rng, app, inst):
                parts[2].append(task)
                parts[3].append(group)
        yield parts


def _copy_value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def bulk_insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    with raw.cursor().copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([_copy_value(row[c]) for c in columns])


def fill(url: str, cases: int, version: str) -> dict[str, float]:
    """Seed the base tables; then the facts by the product's rebuild; then analyze. Seconds each, and counts."""
    targets = (tables.APPLICATION, tables.INSTANCE, tables.TASK, tables.TASK_GROUP)
    began = time.perf_counter()
    made_tasks = 0
    engine = db.get_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # the seeding connection only: its indexes in memory, not re-read
            conn.exec_driver_sql("PRAGMA cache_size=-4000000")
        definition_id = conn.execute(select(tables.DEFINITION.c.id).where(
            tables.DEFINITION.c.key == PROCESS_KEY)).scalar_one()
        for parts in batches(cases, definition_id, version):
            for table, rows in zip(targets, parts, strict=True):
                bulk_insert(conn, table, rows)
            made_tasks += len(parts[2])
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT max(id) FROM process_instance))"))
    seeded = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-4000000")
        facts.rebuild_case_facts(conn, batch=5000)
        case_facts = time.perf_counter()
        tally_rows = facts.rebuild_tally(conn, batch=5000)
    built = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.analyze(engine)
    return {"seed_s": seeded - began, "facts_s": case_facts - seeded, "tally_s": built - case_facts,
            "tally_rows": tally_rows, "analyze_s": time.perf_counter() - built, "tasks": made_tasks}


def reused(url: str) -> dict[str, float]:
    """The counts of a database seeded by an earlier run (`--reuse`), analyzed again."""
    engine = db.get_engine(url)
    with engine.connect() as conn:
        tasks = conn.execute(select(func.count()).select_from(tables.TASK)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(tables.FACT_TALLY)).scalar_one()
    began = time.perf_counter()
    db.analyze(engine)
    return {"seed_s": 0, "facts_s": 0, "tally_s": 0, "tally_rows": rows, "tasks": tasks,
            "analyze_s": time.perf_counter() - began}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of millisecond samples."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def requests(engine: CaseEngine) -> list[tuple[Any, dict[str, str]]]:
    """The mix of (principal, filter) each chart is asked with."""
    center = engine.accounts.principal_named("center1")
    mix = [(center, args) for _name, args in FILTERS]
    return mix + [(engine.accounts.principal_named(user), {}) for user in SCOPED_USERS]


def time_charts(engine: CaseEngine, repeat: int, per_case: bool = False) -> dict[str, tuple[float, float]]:
    """p50/p95 per chart over `repeat` rounds of the request mix (one warm-up round first); `per_case`: read
    the fact rows alone, as before the tally."""
    mix = requests(engine)
    figures: dict[str, tuple[float, float]] = {}
    for name in CHART_NAMES:
        for who, args in mix:
            engine.dashboard.chart(who, name, {**args, "by": "month"}, per_case=per_case)
        samples = [timed(lambda who=who, args=args, name=name:
                         engine.dashboard.chart(who, name, {**args, "by": "month"}, per_case=per_case))
                   for _ in range(repeat) for who, args in mix]
        figures[name] = percentiles(samples)
        print(f"  {name:12s} p50 {figures[name][0]:8.1f} ms   p95 {figures[name][1]:8.1f} ms", flush=True)
    return figures


def time_others(engine: CaseEngine, repeat: int, others: list[tuple[str, str, dict[str, str]]] = OTHERS,
                ) -> dict[str, tuple[float, float, str]]:
    """Per request (OTHERS): p50/p95 over every chart, `repeat` rounds (one warm-up), and the slowest chart."""
    figures: dict[str, tuple[float, float, str]] = {}
    for label, user, args in others:
        who = engine.accounts.principal_named(user)
        samples: list[float] = []
        worst: dict[str, float] = {}
        for name in CHART_NAMES:
            engine.dashboard.chart(who, name, {**args, "by": "month"})
            times = [timed(lambda who=who, args=args, name=name:
                           engine.dashboard.chart(who, name, {**args, "by": "month"}))
                     for _ in range(repeat)]
            samples += times
            worst[name] = max(times)
        p50, p95 = percentiles(samples)
        slowest = max(worst, key=lambda n: worst[n])
        figures[label] = (p50, p95, slowest)
        print(f"  {label:30s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   slowest chart {slowest}", flush=True)
    return figures


def baseline_queries(engine: CaseEngine, who: Any, args: dict[str, str]) -> dict[str, Callable[[Connection], Any]]:
    """The same figures as some charts, aggregated over the base tables (the query the dashboard replaces)."""
    # the outer task tables aliased: the filter's own subqueries over human_task must not correlate to them
    app, inst, task, group = tables.APPLICATION, tables.INSTANCE, tables.TASK.alias("t"), tables.TASK_GROUP.alias("g")
    reference, now = engine.settings.reference, clock.now()

    def where(conn: Connection) -> Any:
        case_filter, _errors = parse_filter(conn, reference, args)
        return and_(scoping.case_filter(who), filter_clause(case_filter, reference, now))

    base = app.join(inst, inst.c.case_no == app.c.case_no)
    # the month of registration (UTC: the base tables have no local month; the cost is what counts here)
    month = func.substr(cast(app.c.created_at, String), literal_column("1"), literal_column("7"))
    return {
        "summary": lambda conn: conn.execute(select(inst.c.status, func.count()).select_from(base)
                                             .where(where(conn)).group_by(inst.c.status)).all(),
        "volume": lambda conn: conn.execute(select(month, inst.c.status, func.count()).select_from(base)
                                            .where(where(conn)).group_by(month, inst.c.status)).all(),
        "regions": lambda conn: conn.execute(select(app.c.township, app.c.village, func.count()).select_from(base)
                                             .where(where(conn)).group_by(app.c.township, app.c.village)).all(),
        "departments": lambda conn: conn.execute(
            select(group.c.group_code, func.count(func.distinct(task.c.case_no))).select_from(
                task.join(group, group.c.task_id == task.c.id).join(app, app.c.case_no == task.c.case_no))
            .where(group.c.group_code.in_(list(reference.departments())), where(conn))
            .group_by(group.c.group_code)).all(),
    }


def time_baseline(engine: CaseEngine, repeat: int) -> dict[str, tuple[float, float]]:
    """p50/p95 of the base-table aggregates over the same mix, `repeat` rounds."""
    figures: dict[str, tuple[float, float]] = {}
    mix = requests(engine)
    for name in ("summary", "volume", "regions", "departments"):
        samples = []
        for _ in range(repeat):
            for who, args in mix:
                with engine.workflows.reading() as session:
                    conn = session.connection()
                    samples.append(timed(lambda conn=conn, who=who, args=args, name=name:
                                         baseline_queries(engine, who, args)[name](conn)))
        figures[name] = percentiles(samples)
        print(f"  {name:12s} p50 {figures[name][0]:8.1f} ms   p95 {figures[name][1]:8.1f} ms", flush=True)
    return figures


def check_totals(engine: CaseEngine) -> int:
    """The dashboard's total equals the base tables' for each request of the mix; the mismatches."""
    wrong = 0
    for who, args in requests(engine):
        shown = engine.dashboard.chart(who, "summary", args)["table"].rows[0]["cells"][1]
        with engine.workflows.reading() as session:
            counted = sum(n for _s, n in baseline_queries(engine, who, args)["summary"](session.connection()))
        if shown != counted:
            wrong += 1
            print(f"  MISMATCH {who.username} {args}: dashboard {shown}, base tables {counted}")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--baseline-repeat", type=int, default=2)
    parser.add_argument("--per-case-repeat", type=int, default=3)
    parser.add_argument("--others-repeat", type=int, default=5)
    parser.add_argument("--grid-repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--keep", type=Path, help="SQLite: write the database here (kept) instead of a temp dir")
    parser.add_argument("--seed-only", action="store_true", help="seed (with --keep or a PostgreSQL URL), time nothing")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.repeat = QUICK["cases"], QUICK["repeat"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.reuse:
            url = args.database_url or f"sqlite:///{folder / f'scheduler-{args.cases}.db'}"
            schema.upgrade(url)  # migrations since the seeding (they keep the fact rows and the tally)
            settings = Settings.from_environ(DATABASE_URL=url)
            engine = CaseEngine(settings)
            load = reused(url)
        else:
            url = fresh_database(args.database_url, folder, args.cases)
            settings = Settings.from_environ(DATABASE_URL=url)
            county(url, settings)
            engine = CaseEngine(settings)
            engine.catalog.ensure_seeded()  # the matter catalog, as `relief init-db` takes it (names, 救助类型)
            engine.deploy(BPMN.read_bytes(), BPMN.name, "bench")
            print(f"database {db.get_engine(url).dialect.name}: seeding {args.cases:,} cases …", flush=True)
            with clock.frozen_at(NOW):
                load = fill(url, args.cases, engine.workflows.serializer.version)
        print(f"{args.cases:,} cases and {load['tasks']:,} tasks seeded in {load['seed_s']:.0f} s; fact rows by "
              f"rebuild_case_facts in {load['facts_s']:.0f} s; tally ({load['tally_rows']:,} rows) by rebuild_tally "
              f"in {load['tally_s']:.0f} s; analyze {load['analyze_s']:.0f} s", flush=True)
        if args.seed_only:
            return
        with clock.frozen_at(NOW):
            print(f"dashboard, {args.repeat} rounds of {len(requests(engine))} requests per chart:")
            charts = time_charts(engine, args.repeat)
            print(f"other requests, every chart, {args.others_repeat} rounds:")
            others = time_others(engine, args.others_repeat)
            print(f"the issue's filters, every combination (the center; up to two for the others), "
                  f"{args.grid_repeat} rounds:")
            grid_figures = time_others(engine, args.grid_repeat, grid())
            print(f"baseline: the same charts from the fact rows alone, {args.per_case_repeat} rounds:")
            per_case = time_charts(engine, args.per_case_repeat, per_case=True)
            print(f"baseline: the same figures over the base tables, {args.baseline_repeat} rounds:")
            base = time_baseline(engine, args.baseline_repeat)
            wrong = check_totals(engine)
    worst = max(p95 for _p50, p95 in charts.values())
    target = TARGET_MS[db.get_engine(url).dialect.name]
    grid_worst = max(grid_figures, key=lambda label: grid_figures[label][1])
    parts = [f"cases={args.cases}", f"tasks={load['tasks']}", f"seed_s={load['seed_s']:.0f}",
             f"facts_s={load['facts_s']:.0f}", f"tally_s={load['tally_s']:.0f}", f"tally_rows={load['tally_rows']}",
             f"worst_p95_ms={worst:.1f}", f"per_case_worst_p95_ms={max(p for _m, p in per_case.values()):.1f}",
             f"mismatches={wrong}"]
    parts += [f"{name}_p95_ms={p95:.1f}" for name, (_p50, p95) in charts.items()]
    parts += [f"per_case_{name}_p95_ms={p95:.1f}" for name, (_p50, p95) in per_case.items()]
    parts += [f"other_{label.replace(' ', '_').replace('+', '_')}_p95_ms={p95:.1f}"
              for label, (_p50, p95, _chart) in others.items()]
    parts += [f"grid_requests={len(grid_figures)}", f"grid_worst_p95_ms={grid_figures[grid_worst][1]:.1f}",
              f"grid_worst={grid_worst.replace(':', '_').replace('+', '_')}",
              f"grid_over_target={sum(p95 > target for _p50, p95, _chart in grid_figures.values())}"]
    parts += [f"baseline_{name}_p50_ms={p50:.0f}" for name, (p50, _p95) in base.items()]
    print("summary: " + " ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
