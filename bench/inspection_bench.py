"""The administrators' instance inspection (流程实例监控) queries against the staff case list, 1k–100k instances.

For each size (1k, 10k, 100k process instances by default) on a fresh database: the demo county is
loaded and processes/relief_linkage.bpmn deployed once through `CaseEngine`, so a real definition
row and its parsed spec exist. Then N applications and N process instances are bulk-inserted
(SQLAlchemy Core executemany, as bench/scheduler_bench.py does), started over the 365 days before
NOW: ~60 % open, 25 % closed_completed, 8 % closed_declined, 4 % suspended, 2 % error,
1 % terminated, closed ones with an end time. Each instance has walked the first 1–4 user tasks of
one path through the flow (names, groups and time limits from the deployed definition): the walked
ones COMPLETED with created/completed times spread along the case's life, the last one READY on
open and suspended cases (due after its time limit in calendar days; about half are overdue at
NOW), CANCELLED on terminated ones; one human_task_group row per task. The instances' `state`
column holds a placeholder, '{}' by default: none of these queries deserializes a workflow. Its
size still counts on SQLite, which keeps it in the row ahead of started_at and ended_at (a real
state is 5–15 kB), so --state-bytes N pads it to N characters; PostgreSQL moves it out of the row
(TOAST). On SQLite no ANALYZE is run (the application never runs it); on PostgreSQL the tables are
analyzed after filling.

Timed, as admin1 (county-wide scope), each warm (one discarded call) and then the median of
--runs calls, one connection and one transaction per call: `engine.cases.inspection.list_instances`
(page 1 unfiltered; status=running; overdue=yes; a task name containing 受理; a case number;
the last page), `definition_heat` over 90 and 365 days, and the staff case list, the baseline
(page 1, the same case number, and its last page): the statements of `CaseFiles.search`
(`engine.files.search`), reproduced here on the timed connection — its count and its page, through
`engine.paging.paginate` as it runs them, names masked; only its lookup of organisation names for
the page is left out. The statements of each query are captured at the largest size and their plans
printed (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), to check which indexes they use.

Usage: python bench/inspection_bench.py [--sizes 1000,10000,100000] [--runs 5] [--state-bytes 0]
                                        [--quick] [--database-url URL]
--quick is a smoke run: sizes 1000,10000 and 3 runs. A PostgreSQL URL must name a database whose
name contains "bench" or "test": its tables are dropped and recreated for each size. The last line
printed is `summary: name=value …` (ms of each query at the largest size, flagged plan lines).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import string
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, func, insert, select, text  # noqa: E402

from bench.scheduler_bench import (  # noqa: E402
    APPLICATION,
    BPMN,
    CHUNK,
    DEPARTMENTS,
    REGIONS,
    bench_settings,
    captured_statements,
    fresh_database,
    plan_warning,
    short_sql,
)
from engine import db, tables  # noqa: E402
from engine.access import personal_data  # noqa: E402
from engine.access.accounts import Principal, load_demo_data, principal_of  # noqa: E402
from engine.bpmn.definitions import LoadedDefinition  # noqa: E402
from engine.cases import store  # noqa: E402
from engine.cases.casefile import case_list_query  # noqa: E402
from engine.cases.inspection import InstanceQuery, definition_heat, list_instances  # noqa: E402
from engine.cases.runtime import PROCESS_KEY, CaseEngine  # noqa: E402
from engine.clock import LOCAL_TZ  # noqa: E402
from engine.models import User  # noqa: E402
from engine.paging import Page, paginate  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.status import CANCELLED, COMPLETED, READY  # noqa: E402

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
PER_PAGE = 20
STATUS_WEIGHTS = {"open": 60, "closed_completed": 25, "closed_declined": 8, "suspended": 4, "error": 2,
                  "terminated": 1}
WAITING = ("open", "suspended", "terminated")  # the last walked task is READY (cancelled when terminated)
# Paths through the flow (user-task element ids); an instance has walked the first 1–4 steps of one.
PATHS = (("triage", "dept_accept", "dept_result", "summary"),
         ("triage", "dept_accept", "field_report", "dept_result"),
         ("triage", "joint_plan", "joint_conference", "summary"),
         ("triage", "dept_accept", "supervision", "dept_result"))
REQUESTS = ("因病致贫，申请医疗救助", "申请临时救助", "子女就学困难，申请教育救助", "房屋受损，申请住房救助")
MATTERS = (["medical_assistance"], ["temporary_assistance"], ["education_assistance"], ["housing_assistance"])
TASK_TEXT = "受理"  # in 一门受理·初步研判 and 受理告知
QUICK = {"sizes": "1000,10000", "runs": 3}  # what --quick sets


@dataclass
class Population:
    """What one size holds, and what building it cost."""

    instances: int
    statuses: Counter[str]
    tasks: int
    ready: int
    overdue: int
    build_seconds: float
    sample_case_no: str


@dataclass
class Timing:
    """One query at one size: median milliseconds, rows returned and what they are out of."""

    key: str  # a stable name for the summary line
    label: str
    ms: float
    spread: float  # slowest minus fastest run
    rows: int
    total: int
    unit: str = ""
    statements: dict[str, Any] = field(default_factory=dict)


# -- population ---------------------------------------------------------------------------------


def _group_of(template: str, department: str, township: str, village: str, rng: random.Random) -> str:
    if template == "${department}":
        return department
    if template.startswith("${region"):
        return rng.choice((township, village))
    return template


def _walk(rng: random.Random, loaded: LoadedDefinition, started: datetime,
          waiting_since: datetime | None) -> list[tuple[str, datetime, datetime | None, datetime]]:
    """(element, created, completed, due) of the tasks one case has walked, oldest first."""
    steps = PATHS[rng.randrange(len(PATHS))][:rng.randint(1, 4)]
    # Each step takes a random share of up to 1.6 times its time limit, in calendar days.
    hours = [rng.uniform(0.05, 1.6) * 24 * loaded.model.user_tasks[s].due_workdays for s in steps]
    walked = len(steps) - 1 if waiting_since is not None else len(steps)
    end = waiting_since if waiting_since is not None else NOW - timedelta(hours=rng.uniform(1, 48))
    available = (end - started).total_seconds() / 3600
    scale = min(1.0, 0.95 * available / max(sum(hours[:walked]), 1e-6))
    result: list[tuple[str, datetime, datetime | None, datetime]] = []
    at = started + timedelta(minutes=rng.uniform(1, 30))
    for i, step in enumerate(steps):
        due = at + timedelta(days=1.4 * loaded.model.user_tasks[step].due_workdays)
        if i < walked:
            done = at + timedelta(hours=hours[i] * scale)
            result.append((step, at, done, due))
            at = done
        else:
            created = waiting_since if waiting_since is not None else at
            result.append((step, created, None, created + (due - at)))
    return result


def case_rows(rng: random.Random, loaded: LoadedDefinition, instance_id: int, case_no: str, started: datetime,
              workflow_state: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The application, instance, task and task-group rows of one case started at `started`."""
    status = rng.choices(tuple(STATUS_WEIGHTS), tuple(STATUS_WEIGHTS.values()))[0]
    township, village = REGIONS[instance_id % len(REGIONS)]
    department = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
    kind = instance_id % len(REQUESTS)
    # A waiting case's current task arrived within the last 12 days (or when the case started).
    waiting_since = max(started, NOW - timedelta(days=rng.uniform(0, 12))) if status in WAITING else None
    walked = _walk(rng, loaded, started, waiting_since)
    ended = walked[-1][2] if status.startswith("closed_") else None
    if status == "terminated" and waiting_since is not None:
        ended = waiting_since + (NOW - waiting_since) * rng.uniform(0.1, 0.9)
    tasks, groups = [], []
    for n, (element, created, completed, due) in enumerate(walked):
        meta = loaded.model.user_tasks[element]
        group = _group_of(meta.candidate_groups[0], department, township, village, rng)
        state = COMPLETED if completed is not None else CANCELLED if ended else READY
        task_id = f"bench-{instance_id:08d}-{n}"
        tasks.append({
            "id": task_id, "instance_id": instance_id, "case_no": case_no, "task_spec": element, "name": meta.name,
            "form_key": meta.form_key, "candidate_groups": [group],
            "context": {"channel": "window", "department": department,
                        "region": {"township": township, "village": village}},
            "assignee": "center1" if completed is not None else None, "state": state, "created_at": created,
            "due_at": due, "completed_at": completed or (ended if state == CANCELLED else None),
            "completed_by": "center1" if completed is not None else None,
            "data": {"decision": "eligible"} if completed is not None else None,
            "overdue_since": due if state == READY and due < NOW else None, "reminded_at": None})
        groups.append({"task_id": task_id, "group_code": group})
    application = {
        "case_no": case_no, "channel": "window", "level": "village", "green_channel": instance_id % 50 == 0,
        "applicant_name": "李四", "id_number": "34052419800101001X", "phone": "13800138000",
        "township": township, "village": village, "address": "东湖社区 1 号", "request": REQUESTS[kind],
        "matters": MATTERS[kind], "created_at": started, "registered_by": "clerk_v", "registered_org": village,
        "query_code_hash": None}
    instance = {
        "id": instance_id, "definition_id": loaded.id, "case_no": case_no, "status": status, "state": workflow_state,
        "serializer_version": "bench", "started_at": started, "ended_at": ended, "next_timer_at": None,
        "lock_version": 1}
    return application, instance, tasks, groups


def placeholder_state(size: int) -> str:
    """JSON of about `size` characters standing in for a serialized workflow; '{}' for 0."""
    if size <= 0:
        return "{}"
    # Letters and digits at random, so PostgreSQL cannot compress it away where a real state would stay large.
    rng = random.Random(size)
    return json.dumps({"bench_padding": "".join(rng.choices(string.ascii_letters + string.digits, k=size))})


def all_case_rows(loaded: LoadedDefinition, count: int, first_id: int, state: str,
                  seed: int = 4015) -> Iterator[Any]:
    """The rows of `count` cases started over the 365 days before NOW, numbered per local day like intake."""
    rng = random.Random(seed)
    starts = sorted(NOW - timedelta(days=rng.uniform(0, 365)) for _ in range(count))
    per_day: Counter[str] = Counter()
    for i, started in enumerate(starts):
        day = f"{started.astimezone(LOCAL_TZ):%Y%m%d}"
        per_day[day] += 1
        yield case_rows(rng, loaded, first_id + i, f"SJ{day}{per_day[day]:04d}", started, state)


def bulk_insert(url: str, loaded: LoadedDefinition, count: int, state: str) -> None:
    """Insert `count` cases, CHUNK cases per executemany of each table."""
    targets = (APPLICATION, tables.INSTANCE, tables.TASK, tables.TASK_GROUP)
    with db.get_engine(url).begin() as conn:
        first_id = (conn.execute(select(func.max(tables.INSTANCE.c.id))).scalar() or 0) + 1
        rows = all_case_rows(loaded, count, first_id, state)
        while batch := list(islice(rows, CHUNK)):
            applications, instances, tasks, groups = zip(*batch, strict=True)
            for table, values in zip(targets, (applications, instances, chain.from_iterable(tasks),
                                              chain.from_iterable(groups)), strict=True):
                conn.execute(insert(table), list(values))
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT max(id) FROM process_instance))"))
            conn.execute(text("ANALYZE"))


def census(url: str, build_seconds: float) -> Population:
    """Count what the database holds, for the header of a size's table."""
    task, instance = tables.TASK, tables.INSTANCE
    with db.get_engine(url).connect() as conn:
        statuses = Counter({status: n for status, n in conn.execute(
            select(instance.c.status, func.count()).group_by(instance.c.status))})
        tasks = conn.execute(select(func.count()).select_from(task)).scalar_one()
        ready = conn.execute(select(func.count()).where(task.c.state == READY)).scalar_one()
        overdue = conn.execute(select(func.count()).where(task.c.state == READY, task.c.due_at < NOW)) \
            .scalar_one()
        total = sum(statuses.values())
        sample = conn.execute(select(instance.c.case_no).order_by(instance.c.id).offset(total // 2).limit(1)) \
            .scalar_one()
    return Population(total, statuses, tasks, ready, overdue, build_seconds, sample)


def build(url: str, settings: Settings, size: int,
          state_bytes: int) -> tuple[Population, Principal, LoadedDefinition]:
    """Fill a fresh database with `size` instances; return what it holds, admin1 and the parsed definition."""
    with db.transaction(db.session_factory(url)) as session:
        load_demo_data(session, settings, NOW)
    engine = CaseEngine(settings)
    engine.deploy(BPMN.read_bytes(), BPMN.name, "bench")
    with db.transaction(engine.sessions) as session:
        definition = store.latest_definition_id(session.connection(), PROCESS_KEY)
        assert definition is not None
        loaded = engine.specs.get_by_id(session, definition[0])
        admin = session.scalars(select(User).where(User.username == "admin1")).one()
        principal = principal_of(session, admin)
    started = time.perf_counter()
    bulk_insert(url, loaded, size, placeholder_state(state_bytes))
    return census(url, time.perf_counter() - started), principal, loaded


# -- the queries --------------------------------------------------------------------------------

Query = Callable[[Connection], tuple[int, int]]


def instance_list(principal: Principal, **filters: Any) -> Query:
    """list_instances with `filters` as admin1 at NOW: (rows on the page, total)."""
    def run(conn: Connection) -> tuple[int, int]:
        found = list_instances(conn, principal, InstanceQuery(per_page=PER_PAGE, **filters), NOW)
        return len(found.items), found.total
    return run


def search_case_list(conn: Connection, principal: Principal, text: str = "", page: int = 1,
                     per_page: int = PER_PAGE) -> Page[dict[str, Any]]:
    """`CaseFiles.search` (the staff case list) on `conn`: its statement, names masked; without its
    lookup of the page's organisation names, which needs the ORM session it opens itself."""
    found = paginate(conn, case_list_query(principal, text), page, per_page, lambda r: dict(r._mapping))
    for row in found.items:
        row["applicant"] = personal_data.mask_name(row.pop("applicant_name"))
    return found


def case_list(principal: Principal, search: str = "", page: int = 1) -> Query:
    """The staff case list (the baseline): (rows on the page, total)."""
    def run(conn: Connection) -> tuple[int, int]:
        found = search_case_list(conn, principal, search, page, PER_PAGE)
        return len(found.items), found.total
    return run


def heat(loaded: LoadedDefinition, days: int) -> Query:
    """definition_heat over the `days` before NOW: (user tasks, tasks completed in the period)."""
    def run(conn: Connection) -> tuple[int, int]:
        rows = definition_heat(conn, loaded, NOW - timedelta(days=days), NOW)
        return len(rows), sum(r["completed"] for r in rows)
    return run


BASELINE = "case list page 1 (baseline)"


def queries(url: str, principal: Principal, loaded: LoadedDefinition,
            case_no: str) -> list[tuple[str, str, Query, str]]:
    """(key, label, query, what its total counts) in the order they are timed and printed."""
    with db.get_engine(url).connect() as conn:
        _, instances = instance_list(principal)(conn)
        _, cases = case_list(principal)(conn)
    last, last_case = max(1, math.ceil(instances / PER_PAGE)), max(1, math.ceil(cases / PER_PAGE))
    return [
        ("baseline", BASELINE, case_list(principal), "cases"),
        ("cases_case_no", f"case list text={case_no}", case_list(principal, case_no), "cases"),
        ("cases_last", f"case list last page (p{last_case})", case_list(principal, page=last_case), "cases"),
        ("list_page1", "list_instances page 1", instance_list(principal), "instances"),
        ("list_running", "list_instances status=running", instance_list(principal, status="running"), "instances"),
        ("list_overdue", "list_instances overdue=yes", instance_list(principal, overdue="yes"), "instances"),
        ("list_task", f"list_instances task~{TASK_TEXT}", instance_list(principal, task=TASK_TEXT), "instances"),
        ("list_case_no", f"list_instances case_no~{case_no}", instance_list(principal, case_no=case_no),
         "instances"),
        ("list_last", f"list_instances last page (p{last})", instance_list(principal, page=last), "instances"),
        ("heat_90d", "definition_heat 90 days", heat(loaded, 90), "completed tasks"),
        ("heat_365d", "definition_heat 365 days", heat(loaded, 365), "completed tasks"),
    ]


def time_query(url: str, key: str, label: str, query: Query, unit: str, runs: int, capture: bool) -> Timing:
    """Call `query` once to warm up (capturing its statements if asked), then `runs` times; the median."""
    engine = db.get_engine(url)
    with captured_statements(url) as statements, engine.connect() as conn:
        rows, total = query(conn)
        conn.rollback()
    seconds = []
    for _ in range(runs):
        with engine.connect() as conn:
            began = time.perf_counter()
            again = query(conn)
            seconds.append(time.perf_counter() - began)
            conn.rollback()
        assert again == (rows, total), (label, again, rows, total)
    return Timing(key, label, 1000 * statistics.median(seconds), 1000 * (max(seconds) - min(seconds)), rows, total,
                  unit, dict(statements) if capture else {})


def measure(database_url: str | None, tmp: Path, size: int, runs: int, capture: bool,
            state_bytes: int) -> tuple[str, Population, list[Timing]]:
    """Build one size on a fresh database and time every query on it."""
    url = fresh_database(database_url, tmp, size)
    population, principal, loaded = build(url, bench_settings(url, tmp), size, state_bytes)
    print(f"{size:,} instances built in {population.build_seconds:.1f} s", flush=True)
    timings = [time_query(url, key, label, query, unit, runs, capture)
               for key, label, query, unit in queries(url, principal, loaded, population.sample_case_no)]
    db.get_engine(url).dispose()
    return url, population, timings


# -- output -------------------------------------------------------------------------------------


def pad(label: str, width: int = 44) -> str:
    """`label` left-aligned in `width` terminal columns (a CJK character takes two)."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in label)
    return label + " " * max(1, width - len(label) - wide)


def print_size(population: Population, timings: Sequence[Timing], runs: int) -> None:
    """Print one size's population and its table of queries."""
    statuses = ", ".join(f"{s} {population.statuses[s]:,}" for s in STATUS_WEIGHTS)
    print(f"\n== {population.instances:,} instances ({statuses}); {population.tasks:,} tasks, "
          f"{population.ready:,} READY of which {population.overdue:,} overdue; "
          f"built in {population.build_seconds:.1f} s")
    baseline = next(t.ms for t in timings if t.label == BASELINE)
    print(f"{'query':<44}{'ms':>10}{'spread':>9}{'× baseline':>12}  rows / total  "
          f"(ms: median of {runs} warm runs; spread: slowest − fastest)")
    for t in timings:
        print(f"{pad(t.label)}{t.ms:>10.2f}{t.spread:>9.2f}{t.ms / baseline:>12.2f}  {t.rows:,} / {t.total:,} {t.unit}")


def print_growth(sizes: Sequence[int], results: Sequence[list[Timing]]) -> None:
    """Print each query's time at every size, and how much faster than the baseline it grows between the last two."""
    if len(sizes) < 2:
        return
    before, after = sizes[-2], sizes[-1]
    print(f"\n== growth: ms per size; growth {before:,} → {after:,} (×{after / before:g} instances), "
          "and that growth over the baseline's")
    print(f"{'query':<44}" + "".join(f"{f'{s:,}':>10}" for s in sizes) + f"{'growth':>9}{'÷ baseline':>12}")
    baseline = results[-1][0].ms / results[-2][0].ms
    for i, t in enumerate(results[-1]):
        growth = t.ms / results[-2][i].ms
        flag = "  !! grows faster than the baseline" if growth / baseline > 1.5 else ""
        print(pad(t.label) + "".join(f"{r[i].ms:>10.2f}" for r in results)
              + f"{growth:>9.1f}{growth / baseline:>12.2f}{flag}")


def one_line(statement: str) -> str:
    """`short_sql`, keeping a short column list (count(*)) instead of skipping on to a subquery's FROM."""
    head, sep, rest = " ".join(statement.split()).partition(" FROM ")
    return head + sep + short_sql(rest) if len(head) < 60 else short_sql(statement)


def plan_flag(line: str) -> str:
    """`plan_warning`, and also an index used on its state/status column alone (every row in that state)."""
    if warning := plan_warning(line):
        return warning
    if re.search(r"INDEX ix_\w+ \((state|status)=\?\)$", line):
        return "!! reads every row in that state: "
    return ""


def print_plans(url: str, timings: Sequence[Timing], size: int) -> int:
    """Print the plan of every statement each query ran at the largest size; flag full scans of big tables.
    Return how many plan lines were flagged."""
    print(f"\n== query plans at {size:,} instances")
    shown: set[str] = set()
    flagged = 0
    with db.get_engine(url).connect() as conn:
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        for t in timings:
            fresh = [(s, p) for s, p in t.statements.items() if s not in shown]
            if not fresh:
                continue
            print(f"\n-- {t.label}")
            for statement, parameters in fresh:
                shown.add(statement)
                print(f"  {one_line(statement)}")
                for row in conn.exec_driver_sql(explain + statement, parameters).all():
                    line = str(row[-1])
                    flag = plan_flag(line)
                    flagged += bool(flag)
                    print(f"    {flag}{line}")
        conn.rollback()
    return flagged


def print_summary(database: str, sizes: Sequence[int], results: Sequence[list[Timing]], flagged: int) -> None:
    """The one-line summary: each query's ms at the largest size, the slowest query over the baseline,
    and the fastest-growing query's growth over the baseline's between the last two sizes."""
    last = results[-1]
    values: dict[str, Any] = {"database": database, "instances": sizes[-1]}
    values.update({f"{t.key}_ms": f"{t.ms:.2f}" for t in last})
    worst = max(last[1:], key=lambda t: t.ms)
    values["slowest"] = worst.key
    values["slowest_x_baseline"] = f"{worst.ms / last[0].ms:.2f}"
    if len(results) > 1:
        baseline = last[0].ms / results[-2][0].ms
        values["max_growth_x_baseline"] = f"{max(t.ms / results[-2][i].ms for i, t in enumerate(last)) / baseline:.2f}"
    values["flagged_plan_lines"] = flagged
    print("summary: " + " ".join(f"{k}={v}" for k, v in values.items()))


def main() -> None:
    """Measure every size in one run and print the tables, the growth and the largest size's plans."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="process instances per run, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per query (after one warm-up)")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file per size")
    parser.add_argument("--state-bytes", type=int, default=0,
                        help="size of each instance's placeholder state; 0: '{}' (a real one is 5–15 kB)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: --sizes {QUICK['sizes']} --runs {QUICK['runs']}")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.runs = QUICK["sizes"], QUICK["runs"]
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[list[Timing]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, size in enumerate(sizes):
            url, population, timings = measure(args.database_url, Path(tmp), size, args.runs, n == len(sizes) - 1,
                                               args.state_bytes)
            print_size(population, timings, args.runs)
            results.append(timings)
        state = f"{args.state_bytes:,}-character" if args.state_bytes else "'{}'"
        print(f"\ndatabase: {(args.database_url or 'sqlite').split('://')[0]}; now {NOW.isoformat()}; "
              f"as admin1 (county-wide); {PER_PAGE} per page; instance state {state}")
        print_growth(sizes, results)
        flagged = print_plans(url, results[-1], sizes[-1])
        db.get_engine(url).dispose()
    print_summary((args.database_url or "sqlite").split("://")[0].split("+")[0], sizes, results, flagged)


if __name__ == "__main__":
    main()
