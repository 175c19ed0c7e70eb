"""The scheduler: one database lease holder at a time across threads and processes, ticks only by the holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import clock, db
from engine.deadlines import lease
from engine.deadlines.scheduler import (
    DEADLINE_JOB_ID,
    LEASE_NAME,
    build_scheduler,
    deadline_job,
    start_in_background,
    stop_background,
)
from engine.settings import PROJECT_ROOT as ROOT
from engine.settings import Settings
from tests.support.db import settings_for

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Jiangsu
TTL = timedelta(seconds=180)
SECOND = timedelta(seconds=1)

# One scheduler process in miniature: try the lease in a loop for a second and print every win.
# Every fifth win the holder "dies" (a fresh holder id takes its place, as after a restart), so the
# lease must expire and be taken over again and again while the other process competes for it.
# A real scheduler retries once an interval; the millisecond between tries stands for that, and
# without it SQLite's busy handler lets one process hog the write lock and starve the other.
LEASE_LOOP = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from engine import db
from engine.deadlines import lease
url, name, ttl = sys.argv[1], sys.argv[2], timedelta(milliseconds=int(sys.argv[3]))
sessions = db.session_factory(url)
print("ready", flush=True)
sys.stdin.readline()
holder, wins, end = lease.holder_id(), [], time.monotonic() + 1.0
while time.monotonic() < end:
    now = datetime.now(UTC)
    if lease.try_acquire(sessions, name, holder, now, ttl):
        wins.append([holder, now.isoformat()])
        if len(wins) % 5 == 0:
            holder = lease.holder_id()
    time.sleep(0.001)
print(json.dumps(wins), flush=True)
"""


class TickRecorder:
    """Stands in for engine.deadlines.tick: records each call instead of touching the deadlines."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, datetime]] = []

    def __call__(self, engine: Any, now: datetime) -> dict[str, Any]:
        self.calls.append((engine, now))
        return {"now": now.isoformat(), "timers_fired": [], "tasks_flagged": [], "reminders": [],
                "notices_queued": 0}


class StartCounter:
    """Stands in for a scheduler's start(): counts it and hands everything else to a real, unstarted scheduler."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler, self.starts = scheduler, 0

    def start(self) -> None:
        self.starts += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.scheduler, name)


@pytest.fixture
def background() -> Iterator[None]:
    """Stop whatever scheduler a test started in the background, so none outlives the test."""
    yield
    stop_background()


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start child processes on the test database; kill any still running at teardown (or after 2 minutes)."""
    children: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(args, cwd=ROOT, env=dict(os.environ), text=True, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watchdog = threading.Timer(120, child.kill)
        watchdog.daemon = True
        watchdog.start()
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate()


def scheduler_ids(scheduler: Any) -> list[str]:
    """The ids of the jobs a scheduler has."""
    return [job.id for job in scheduler.get_jobs()]


def test_a_free_lease_is_taken(clean_db: str) -> None:
    """The first holder to ask gets the lease; the first time creates its row."""
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0, TTL)
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0, TTL)


def test_the_lease_is_refused_while_held(clean_db: str) -> None:
    """Another holder is refused up to and including the moment the lease expires."""
    lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0, TTL)
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + TTL - SECOND, TTL)
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + TTL, TTL)


def test_the_holder_renews_its_lease(clean_db: str) -> None:
    """A renewal pushes the expiry on: past the first TTL, the holder still has the lease."""
    lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0, TTL)
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0 + 60 * SECOND, TTL)
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + TTL + SECOND, TTL)
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0 + TTL + SECOND, TTL)


def test_an_expired_lease_is_taken_over(clean_db: str) -> None:
    """Once the holder stops renewing, another takes the lease after the TTL, and the old holder is refused."""
    lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0, TTL)
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + TTL + SECOND, TTL)
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0 + TTL + 2 * SECOND, TTL)


def test_a_released_lease_is_free_at_once(clean_db: str) -> None:
    """Only the holder can release the lease; after that another holder gets it without waiting."""
    lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "a", T0, TTL)
    assert not lease.release(db.session_factory(clean_db), LEASE_NAME, "b")
    assert not lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + SECOND, TTL)
    assert lease.release(db.session_factory(clean_db), LEASE_NAME, "a")
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "b", T0 + SECOND, TTL)


@pytest.mark.parametrize("step", [timedelta(0), 2 * TTL], ids=["same-instant", "expired-every-instant"])
def test_racing_threads_never_share_the_lease(clean_db: str, step: timedelta) -> None:
    """8 threads x 50 attempts (each on its own connection): every instant has exactly one holder."""
    threads, attempts = 8, 50
    barrier = threading.Barrier(threads)
    wins: dict[datetime, set[str]] = defaultdict(set)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def contend(holder: str) -> None:
        barrier.wait()
        try:
            for i in range(attempts):
                now = T0 + i * step
                if lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, holder, now, TTL):
                    with lock:
                        wins[now].add(holder)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    workers = [threading.Thread(target=contend, args=(f"holder{n}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert errors == []
    assert {T0 + i * step for i in range(attempts)} == set(wins)
    assert all(len(holders) == 1 for holders in wins.values()), wins


def test_two_processes_never_hold_the_lease_at_once(clean_db: str,
                                                    spawn: Callable[..., subprocess.Popen[str]]) -> None:
    """Two OS processes race for one lease for a second: wins of different holders are always a TTL apart."""
    ttl_ms = 20
    children = [spawn(sys.executable, "-c", LEASE_LOOP, clean_db, "two-processes", str(ttl_ms)) for _ in range(2)]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate() for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    per_process = [[(datetime.fromisoformat(at), holder) for holder, at in json.loads(out)] for out, _ in outputs]
    assert all(per_process), "each process must have held the lease at least once"
    wins = sorted(win for wins in per_process for win in wins)
    overlaps = [(earlier, later) for earlier, later in zip(wins, wins[1:], strict=False)
                if earlier[1] != later[1] and later[0] - earlier[0] <= timedelta(milliseconds=ttl_ms)]
    assert overlaps == []
    assert len({holder for _, holder in wins}) > 2, "the lease was never taken over"


def test_the_job_ticks_only_while_holding_the_lease(clean_db: str) -> None:
    """Two schedulers on one database: only the lease holder ticks; the other takes over when it stops renewing."""
    ticks_a, ticks_b = TickRecorder(), TickRecorder()
    job_a = deadline_job(build_scheduler(settings_for(clean_db), 60, 180, tick=ticks_a, holder="host-a:1:x"))
    job_b = deadline_job(build_scheduler(settings_for(clean_db), 60, 180, tick=ticks_b, holder="host-b:2:y"))
    assert job_a(T0) is not None
    assert job_b(T0) is None
    assert job_a(T0 + 60 * SECOND) is not None
    assert job_b(T0 + TTL + SECOND) is None  # a renewed the lease at T0 + 60 s
    # a dies here; its lease runs out 180 s after its last renewal.
    assert job_b(T0 + 60 * SECOND + TTL + SECOND) is not None
    assert job_a(T0 + 60 * SECOND + TTL + 2 * SECOND) is None
    assert [now for _, now in ticks_a.calls] == [T0, T0 + 60 * SECOND]
    assert [now for _, now in ticks_b.calls] == [T0 + 60 * SECOND + TTL + SECOND]


def test_each_tick_is_counted_on_the_lease_row(clean_db: str) -> None:
    """The holder's ticks are counted on the lease row (read by /metrics elsewhere); a hand-over keeps the count."""
    from engine.operations import lease_state

    job_a = deadline_job(build_scheduler(settings_for(clean_db), 60, 180, tick=TickRecorder(), holder="host-a:1:x"))
    job_b = deadline_job(build_scheduler(settings_for(clean_db), 60, 180, tick=TickRecorder(), holder="host-b:2:y"))
    job_a(T0)
    job_a(T0 + 60 * SECOND)
    job_b(T0 + 61 * SECOND)  # stands by: not counted
    with db.transaction(db.session_factory(clean_db), read_only=True) as session:
        state = lease_state(session.connection(), T0 + 61 * SECOND)
    assert state is not None and state.holder == "host-a:1:x" and state.ticks == 2 and state.last_tick_at is not None
    job_b(T0 + 60 * SECOND + TTL + SECOND)  # a stopped renewing: b takes over
    with db.transaction(db.session_factory(clean_db), read_only=True) as session:
        state = lease_state(session.connection(), T0 + 60 * SECOND + TTL + SECOND)
    assert state is not None and state.holder == "host-b:2:y" and state.ticks == 3 and state.fresh


def test_the_job_reuses_one_case_engine(clean_db: str) -> None:
    """Every tick of a scheduler gets the same CaseEngine on the scheduler's database."""
    ticks = TickRecorder()
    job = deadline_job(build_scheduler(settings_for(clean_db), tick=ticks))
    job(T0)
    job(T0 + 60 * SECOND)
    engines = {id(engine) for engine, _ in ticks.calls}
    assert len(engines) == 1 and ticks.calls[0][0].database_url == clean_db


def test_the_job_runs_the_real_deadline_tick(start_case: Any, clean_db: str) -> None:
    """Without a test double the job runs engine.deadlines.tick: a long-overdue triage task is flagged."""
    with clock.frozen_at(T0):
        case = start_case()
    [triage] = case.open_tasks()
    report = deadline_job(build_scheduler(settings_for(clean_db)))(T0 + timedelta(days=30))
    assert report is not None
    assert [flag["task_id"] for flag in report["tasks_flagged"]] == [triage["id"]]


def test_the_scheduler_has_one_explicitly_named_job(clean_db: str) -> None:
    """The scheduler is built unstarted with the "deadline_tick" job: one instance at a time, missed runs merged."""
    scheduler = build_scheduler(settings_for(clean_db), interval_seconds=30, ttl_seconds=90)
    [job] = scheduler.get_jobs()
    assert not scheduler.running
    assert scheduler_ids(scheduler) == [DEADLINE_JOB_ID] == ["deadline_tick"]
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 30)
    assert job.trigger.interval == timedelta(seconds=30)
    assert deadline_job(scheduler).ttl == timedelta(seconds=90)


def test_a_lease_shorter_than_the_interval_is_refused(clean_db: str) -> None:
    """A TTL not longer than the interval would let the lease lapse between runs, so it is refused."""
    with pytest.raises(ValueError, match="TTL"):
        build_scheduler(settings_for(clean_db), interval_seconds=60, ttl_seconds=60)


def test_the_background_scheduler_starts_once_per_process(clean_db: str, background: None) -> None:
    """Starting the background scheduler twice in one process builds and starts it once."""
    built: list[StartCounter] = []

    def build(settings: Settings) -> Any:
        built.append(StartCounter(build_scheduler(settings, tick=TickRecorder())))
        return built[-1]

    first = start_in_background(settings_for(clean_db), build)
    second = start_in_background(settings_for(clean_db), build)
    assert first is second and len(built) == 1 and built[0].starts == 1


def scheduler_threads() -> list[threading.Thread]:
    """The running APScheduler threads of this process."""
    return [thread for thread in threading.enumerate() if thread.name == "APScheduler"]


def app_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """A test configuration of the web app."""
    return {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", **overrides}


def test_the_app_starts_no_scheduler_when_off(clean_db: str, background: None) -> None:
    """create_app with SCHEDULER off (the default) starts no scheduler thread."""
    from web import create_app

    create_app(app_config(clean_db))
    create_app(app_config(clean_db, SCHEDULER="off"))
    assert scheduler_threads() == []


def test_the_reloader_parent_starts_no_scheduler(clean_db: str, background: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """In debug mode the Werkzeug reloader's watching parent (no WERKZEUG_RUN_MAIN) starts no scheduler."""
    from web import create_app

    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    create_app(app_config(clean_db, SCHEDULER="on", DEBUG=True))
    assert scheduler_threads() == []


@pytest.mark.parametrize(("setting", "debug", "run_main", "wanted"), [
    ("off", False, None, False), (False, False, None, False), ("on", False, None, True), (True, False, None, True),
    ("on", True, None, False), ("on", True, "true", True), ("off", True, "true", False),
])
def test_which_processes_want_the_scheduler(clean_db: str, monkeypatch: pytest.MonkeyPatch, setting: Any,
                                            debug: bool, run_main: str | None, wanted: bool) -> None:
    """The scheduler runs when switched on, except in the reloader's parent when debugging."""
    from flask import Flask

    from web import _scheduler_wanted

    if run_main is None:
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    else:
        monkeypatch.setenv("WERKZEUG_RUN_MAIN", run_main)
    app = Flask(__name__)
    app.config.update(SCHEDULER=setting, DEBUG=debug)
    assert _scheduler_wanted(app) is wanted


def test_an_unknown_scheduler_setting_is_refused(clean_db: str) -> None:
    """RELIEF_SCHEDULER other than on/off stops the app from starting, with the variable named."""
    from web import create_app

    with pytest.raises(ValueError, match="RELIEF_SCHEDULER"):
        create_app(app_config(clean_db, SCHEDULER="sometimes"))


@pytest.mark.parametrize("command", [("scheduler", "run", "--json"), ("scheduler",)], ids=["run", "bare"])
def test_scheduler_run_releases_the_lease_on_sigterm(clean_db: str, command: tuple[str, ...],
                                                     spawn: Callable[..., subprocess.Popen[str]]) -> None:
    """`relief scheduler [run]` ticks at once, and on SIGTERM releases the lease and exits 0."""
    child = spawn(str(Path(sys.executable).with_name("relief")), *command)
    assert child.stderr is not None
    seen = []
    for line in child.stderr:  # the log says when it holds the lease; no waiting on the clock
        seen.append(line)
        if "took the scheduler lease" in line:
            break
    assert any("took the scheduler lease" in line for line in seen), seen
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate()
    assert child.returncode == 0, err
    if "--json" in command:
        report = json.loads(out)
        assert (report["stopped_by"], report["ticks"]) == ("SIGTERM", 1)
    assert "released the scheduler lease" in err
    assert lease.try_acquire(db.session_factory(clean_db), LEASE_NAME, "next-process", clock.now(), TTL)
