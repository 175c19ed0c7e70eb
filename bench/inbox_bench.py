"""The inbox at county scale: 100,000 open and 1,000,000 done tasks, first page and page 50 (issue 11).

A fresh database is filled in bulk (SQLAlchemy Core executemany) with a county of 12 townships of 15
villages each (the demo county's two townships among them), its departments and matters: open cases with
one open task each (and the tasks done before it), and closed cases with every task done. Open work sits
as in a county: most with the departments, some in the field (a village's or a township's), some with
the center and the joint office; one in ten is held by someone, one in fifty is 绿色通道, due dates run from
two weeks overdue to four weeks ahead. The open tasks are then filed in the inbox index by the product's
own `inbox_index.rebuild_all`, and the planner's statistics refreshed (`engine.db.analyze`; on
PostgreSQL after a VACUUM of the index table, as autovacuum would have run on it).

Then `CaseEngine.inbox.tasks` — what the inbox page and `GET /api/v1/tasks` call — is timed for a center,
a department, a township and a village user: the first page, page 50 by number, the page after a cursor
deep in the list, and with filters (case number, township, overdue). The baseline in the same run is a
primary-key read of one task row; the previous inbox query (every open task checked against the user's
groups, `scoping.task_filter`, with a full count) is timed too, fewer times. The plans of the inbox's
statements are printed (EXPLAIN); any full scan of human_task or inbox_entry is flagged.

Usage: python bench/inbox_bench.py [--open N] [--done N] [--repeat N] [--quick] [--database-url URL]
--quick: 2,000 open and 20,000 done tasks. A PostgreSQL URL must name a database whose name contains
"bench" or "test": its tables are dropped and recreated. The last line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from scheduler_bench import captured_statements, fresh_database, query_plans  # noqa: E402
from sqlalchemy import and_, func, insert, select, text  # noqa: E402

from engine import clock, db, tables  # noqa: E402
from engine.access import scoping  # noqa: E402
from engine.access.accounts import load_demo_data, upsert_organisation  # noqa: E402
from engine.cases import inbox_index, store  # noqa: E402
from engine.cases.inbox import TaskQuery  # noqa: E402
from engine.cases.runtime import PROCESS_KEY, CaseEngine  # noqa: E402
from engine.clock import LOCAL_TZ  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.status import COMPLETED, READY  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ)  # a Monday: the clock of every measurement
DEPARTMENTS = ("minzheng", "yibao", "jiaoyu", "canlian", "zhujian", "renshe", "hongshizihui", "zonggonghui",
               "sifa", "yingji")
MATTERS = ("dibao", "dibao_bianyuan", "tekun", "temporary_assistance", "medical_assistance", "education_assistance")
CHANNELS = ("window", "window", "window", "online", "hotline")
TOWNSHIPS = [f"T{t:02d}" for t in range(1, 13)]
VILLAGES = {t: [f"{t}V{v:02d}" for v in range(1, 16)] for t in TOWNSHIPS}
# Open work by whose it is (weights): the departments hold most, then the field, the center, the joint office.
WHOSE = ("department",) * 60 + ("village",) * 18 + ("township",) * 9 + ("center",) * 10 + ("joint_office",) * 3
DONE_STEPS = (("triage", "一门受理·初步研判", "center"), ("dept_accept", "受理告知", "department"),
              ("field_report", "处理上报", "village"), ("dept_result", "办结反馈", "department"),
              ("summary", "汇总办结", "center"))
OPEN_STEPS = {"department": ("dept_accept", "受理告知"), "village": ("field_report", "处理上报"),
              "township": ("field_report", "处理上报"), "center": ("triage", "一门受理·初步研判"),
              "joint_office": ("joint_plan", "联动救助方案")}
HOLDERS = {"minzheng": "mz1", "yibao": "yb1", "center": "center1", "joint_office": "joint1", "T01": "town1",
           "T01V01": "village1"}
USERS = ("center1", "mz1", "town1", "village1")
CHUNK = 5000
QUICK = {"open": 2000, "done": 20000, "repeat": 10}


def county(url: str, settings: Settings) -> None:
    """The demo county and its users, widened to 12 townships of 15 villages."""
    with db.transaction(db.session_factory(url)) as session:
        load_demo_data(session, settings, NOW)
        for township in TOWNSHIPS:
            upsert_organisation(session, township, f"第{township[1:]}镇", "township", "center")
            for village in VILLAGES[township]:
                upsert_organisation(session, village, f"{township}镇{village[-2:]}村", "village", township)


def _case(i: int, rng: random.Random, prefix: str, definition_id: int, status: str,
          serializer_version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    township = TOWNSHIPS[rng.randrange(len(TOWNSHIPS))]
    village = rng.choice(VILLAGES[township])
    started = NOW - timedelta(days=rng.uniform(1, 365))
    case_no = f"{prefix}{i:09d}"
    application = {"case_no": case_no, "channel": rng.choice(CHANNELS), "level": "village",
                   "green_channel": rng.random() < 0.02, "applicant_name": "李四", "id_number": "34052419800101001X",
                   "phone": "13800138000", "township": township, "village": village, "address": "1 号",
                   "request": "申请临时救助", "matters": [rng.choice(MATTERS)], "situation": {}, "created_at": started,
                   "registered_by": "clerk_v", "registered_org": village, "query_code_hash": None}
    instance = {"id": i, "definition_id": definition_id, "case_no": case_no, "status": status, "state": "{}",
                "serializer_version": serializer_version, "started_at": started,
                "ended_at": None if status == "open" else started + timedelta(days=20), "next_timer_at": None,
                "lock_version": 1}
    return application, instance


def _group(whose: str, department: str, application: dict[str, Any]) -> str:
    return {"department": department, "village": application["village"], "township": application["township"],
            "center": "center", "joint_office": "joint_office"}[whose]


def _task(task_id: str, instance: dict[str, Any], spec: str, name: str, group: str, state: str, created: datetime,
          due: datetime, assignee: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    done = state == COMPLETED
    return ({"id": task_id, "instance_id": instance["id"], "case_no": instance["case_no"], "task_spec": spec,
             "name": name, "form_key": spec, "candidate_groups": [group], "context": {"channel": "window"},
             "assignee": assignee, "state": state, "created_at": created, "due_at": due,
             "completed_at": created + timedelta(days=2) if done else None,
             "completed_by": assignee or "center1" if done else None, "data": {"ok": True} if done else None,
             "overdue_since": None, "reminded_at": None},
            {"task_id": task_id, "group_code": group})


def rows(open_tasks: int, done_tasks: int, definition_id: int, version: str,
         seed: int = 4012) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """(applications, instances, tasks, groups) of one case at a time: open cases first (one open task
    and two done before it), then closed ones (five done tasks) until `done_tasks` are made."""
    rng = random.Random(seed)
    done_made, i = 0, 0
    while i < open_tasks or done_made < done_tasks:
        i += 1
        is_open = i <= open_tasks
        application, instance = _case(i, rng, "SJ", definition_id, "open" if is_open else "completed", version)
        department = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
        started = instance["started_at"]
        tasks, groups = [], []
        steps = DONE_STEPS[:2] if is_open else DONE_STEPS
        for n, (spec, name, whose) in enumerate(steps):
            group = _group(whose, department, application)
            task, link = _task(f"d{i:09d}{n}", instance, spec, name, group, COMPLETED, started + timedelta(days=n),
                               started + timedelta(days=n + 3), HOLDERS.get(group))
            tasks.append(task)
            groups.append(link)
        done_made += len(steps)
        if is_open:
            whose = rng.choice(WHOSE)
            group = _group(whose, department, application)
            spec, name = OPEN_STEPS[whose]
            created = NOW - timedelta(days=rng.uniform(0, 20))
            due = NOW + timedelta(days=rng.uniform(-14, 28))
            holder = HOLDERS.get(group) if rng.random() < 0.1 else None
            task, link = _task(f"o{i:09d}", instance, spec, name, group, READY, created, due, holder)
            tasks.append(task)
            groups.append(link)
        yield [application], [instance], tasks, groups


def fill(url: str, open_tasks: int, done_tasks: int, serializer_version: str) -> dict[str, float]:
    """Insert the county's cases in bulk, file the open tasks in the inbox index, analyze; seconds taken."""
    targets = (tables.APPLICATION, tables.INSTANCE, tables.TASK, tables.TASK_GROUP)
    began = time.perf_counter()
    with db.get_engine(url).begin() as conn:
        definition_id = conn.execute(select(tables.DEFINITION.c.id).where(
            tables.DEFINITION.c.key == PROCESS_KEY)).scalar_one()
        cases = rows(open_tasks, done_tasks, definition_id, serializer_version)
        while chunk := list(islice(cases, CHUNK)):
            for table, parts in zip(targets, zip(*chunk, strict=True), strict=True):
                conn.execute(insert(table), [row for part in parts for row in part])
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT max(id) FROM process_instance))"))
    seeded = time.perf_counter()
    with db.get_engine(url).begin() as conn:
        filed = inbox_index.rebuild_all(conn)
    indexed = time.perf_counter()
    engine = db.get_engine(url)
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a table of this age: the visibility map set, so the planner may count
        # through an index alone rather than a heap just written.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM inbox_entry")
    db.analyze(engine)
    return {"seed_s": seeded - began, "index_s": indexed - seeded, "analyze_s": time.perf_counter() - indexed,
            "filed": filed}


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of `call` over `repeat` runs after one warm-up."""
    call()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def previous_inbox(engine: CaseEngine, who: Any, per_page: int = 20) -> Callable[[], Any]:
    """The inbox query before the index: every open task checked against the user's groups, counted."""
    from sqlalchemy import case

    from engine.deadlines.due import overdue_clause

    task, application = tables.TASK, tables.APPLICATION

    def run() -> Any:
        now = clock.now()
        joined = task.join(application, application.c.case_no == task.c.case_no, isouter=True)
        where = and_(task.c.state == READY, scoping.task_filter(who), store.task_of_open_case())
        order = [case((application.c.green_channel.is_(True), 0), else_=1), case((overdue_clause(now), 0), else_=1),
                 task.c.due_at, task.c.created_at]
        query = select(*store.TASK_COLUMNS).select_from(joined).where(where).order_by(*order)
        with engine.workflows.reading() as session:
            conn = session.connection()
            total = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            return total, conn.execute(query.limit(per_page)).all()

    return run


def deep_cursor(engine: CaseEngine, who: Any, pages: int) -> tuple[str, int]:
    """The cursor after `pages` pages (following 下一页), and the page number it leads to."""
    query = TaskQuery()
    for _ in range(pages):
        page = engine.inbox.tasks(who, query)
        if not page.cursor:
            break
        query = TaskQuery(page=query.page + 1, after=page.cursor)
    return query.after, query.page


def measure(engine: CaseEngine, url: str, repeat: int) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """Time every user's inbox reads; return the summary fields and the plans of the statements."""
    found: dict[str, str] = {}
    with db.transaction(engine.sessions) as session:
        probe = session.execute(select(tables.TASK.c.id).where(tables.TASK.c.state == READY).limit(1)).scalar_one()
        sample_case = session.execute(select(tables.TASK.c.case_no).where(tables.TASK.c.id == probe)).scalar_one()

    def baseline() -> Any:
        with engine.workflows.reading() as session:
            return store.get_task(session.connection(), probe)

    p50, p95 = timed(baseline, repeat)
    print(f"baseline: one task row by primary key   p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    found["baseline_p95_ms"] = f"{p95:.2f}"
    worst = 0.0
    print(f"{'user':<10}{'tasks':>8}{'keys':>6}  {'read':<26}{'p50 ms':>9}{'p95 ms':>9}")
    with captured_statements(url) as statements:
        for username in USERS:
            who = engine.accounts.principal_named(username)
            assert who is not None
            first = engine.inbox.tasks(who, TaskQuery())
            total = f"{first.total}{'+' if first.capped else ''}"
            after, page_no = deep_cursor(engine, who, 49)
            reads = {"first page": TaskQuery(), "page 50 by number": TaskQuery(page=50),
                     f"page {page_no} by cursor": TaskQuery(page=page_no, after=after),
                     "by case number": TaskQuery(case_no=sample_case), "township T02": TaskQuery(township="T02"),
                     "overdue": TaskQuery(overdue=True)}
            for label, query in reads.items():
                p50, p95 = timed(lambda q=query, w=who: engine.inbox.tasks(w, q), repeat)  # type: ignore[misc]
                worst = max(worst, p95)
                print(f"{username:<10}{total:>8}{len(scoping.inbox_keys(who)):>6}  {label:<26}{p50:>9.2f}{p95:>9.2f}")
                key = "cursor" if "cursor" in label else label.replace(" by number", "").replace(" ", "_")
                found[f"{username}_{key}_p95_ms"] = f"{p95:.2f}"
    found["p95_ms_max"] = f"{worst:.2f}"
    for username in USERS:  # outside the capture: its plans are the full scans the index replaces
        p50, p95 = timed(previous_inbox(engine, engine.accounts.principal_named(username)), max(3, repeat // 5))
        print(f"{username:<10}{'':>8}{'':>6}  {'previous query (first page)':<26}{p50:>9.2f}{p95:>9.2f}")
        found[f"{username}_previous_p95_ms"] = f"{p95:.2f}"
    interesting = {s: p for s, p in statements.items() if "inbox_entry" in s or "FROM human_task" in s}
    return found, query_plans(url, interesting, ("inbox_entry", "human_task"))


def flagged(plans: list[tuple[str, list[str]]]) -> list[str]:
    """Plan lines that read a whole table of tasks (no index)."""
    bad = []
    for _statement, lines in plans:
        for line in lines:
            sqlite_scan = line.startswith("SCAN ") and " USING " not in line and ("inbox_entry" in line
                                                                                 or "human_task" in line)
            pg_scan = "Seq Scan on inbox_entry" in line or "Seq Scan on human_task" in line
            if sqlite_scan or pg_scan:
                bad.append(line.strip())
    return bad


def main() -> None:
    """Fill the county, time the inbox reads, print the plans and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open tasks (one per open case)")
    parser.add_argument("--done", type=int, default=1_000_000, help="done tasks")
    parser.add_argument("--repeat", type=int, default=40, help="timed runs per read")
    parser.add_argument("--quick", action="store_true", help="2,000 open and 20,000 done tasks, 10 runs")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temp dir")
    parser.add_argument("--plans", action="store_true", help="print every statement with its plan")
    args = parser.parse_args()
    if args.quick:
        args.open, args.done, args.repeat = QUICK["open"], QUICK["done"], QUICK["repeat"]
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database_url, Path(tmp), args.open)
        settings = Settings.from_environ(DATABASE_URL=url, INSTANCE_DIR=tmp)
        county(url, settings)
        engine = CaseEngine(settings)
        engine.deploy(BPMN.read_bytes(), BPMN.name, "bench")
        built = fill(url, args.open, args.done, engine.workflows.serializer.version)
        database = url.split("://")[0].split("+")[0]
        print(f"database: {database}; {args.open:,} open + {args.done:,} done tasks; "
              f"seeded in {built['seed_s']:.1f} s, {built['filed']:,} open tasks filed in {built['index_s']:.1f} s, "
              f"analyzed in {built['analyze_s']:.1f} s")
        with clock.frozen_at(NOW):
            found, plans = measure(engine, url, args.repeat)
        bad = flagged(plans)
        for statement, lines in plans:
            if args.plans or any(line.strip() in bad for line in lines):
                print("--", " ".join(statement.split())[:300])
                print("\n".join(f"   {line}" for line in lines))
        print(f"statements explained: {len(plans)}; full scans of a task table: {len(bad)}")
        summary = {"database": database, "open": str(args.open), "done": str(args.done), **found,
                   "full_scans": str(len(bad))}
        print("summary: " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
