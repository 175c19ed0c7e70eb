"""Several hosts on one PostgreSQL database: two app servers and two `relief scheduler run` processes. Killing
the lease holder hands the deadline jobs to the other within the lease's TTL, and no job runs twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import clock, db
from engine.tables import EVENT, LEASE, NOTICE, TASK
from tests.support.cases import dispatch, start
from tests.support.db import ROOT

INTERVAL, TTL = 1, 3  # seconds: `relief scheduler run --interval 1 --ttl 3`
MARGIN = 5.0  # seconds past TTL + interval for a new process to notice, on a busy machine
STARTED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # long ago: every task overdue, every 督办 timer due
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not os.environ.get("RELIEF_DATABASE_URL", "").startswith("postgresql"),
                                reason="several hosts share one PostgreSQL database; SQLite is one host's file")


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes (each in its own process group, output in a log file); kill them all at teardown."""
    children: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "RELIEF_INSTANCE_DIR": str(tmp_path / "instance"), "RELIEF_SCHEDULER": "off",
           "RELIEF_WORKERS": "1"}

    def run(name: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as log:
            child = subprocess.Popen(args, cwd=ROOT, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        children.append(child)
        return child

    yield run
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def wait_for(what: str, check: Callable[[], Any], seconds: float) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `seconds`."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {seconds} s")


def answers_login(port: int) -> bool:
    """True when the app server on `port` serves the sign-in page."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            return bool(response.status == 200 and "登录".encode() in response.read())
    except OSError:
        return False


def lease_holder(url: str) -> str | None:
    """The holder of the scheduler lease while it is valid (hostname:pid:random), else None."""
    with db.get_engine(url).connect() as conn:
        row = conn.execute(select(LEASE.c.holder, LEASE.c.expires_at)).first()
    return row.holder if row is not None and row.expires_at > clock.now() else None


def pid_of(holder: str) -> int:
    """The process id in a holder id."""
    return int(holder.split(":")[1])


def duplicates(url: str) -> dict[str, list[Any]]:
    """What a job run twice would leave: a task flagged or reminded twice, a timer fired twice for one task, two
    督办 (supervision) tasks of one case, a notice twice to one person about one task."""
    with db.get_engine(url).connect() as conn:
        events = conn.execute(select(EVENT.c.case_no, EVENT.c.type, EVENT.c.task_id, func.count())
                              .where(EVENT.c.type.in_(("task_overdue", "task_due_soon", "timer_fired")))
                              .group_by(EVENT.c.case_no, EVENT.c.type, EVENT.c.task_id).having(func.count() > 1)).all()
        supervision = conn.execute(select(TASK.c.case_no, func.count()).where(TASK.c.form_key == "supervision")
                                   .group_by(TASK.c.case_no).having(func.count() > 1)).all()
        notices = conn.execute(select(NOTICE.c.kind, NOTICE.c.username, NOTICE.c.case_no, NOTICE.c.content,
                                      func.count())
                               .group_by(NOTICE.c.kind, NOTICE.c.username, NOTICE.c.case_no, NOTICE.c.content)
                               .having(func.count() > 1)).all()
    return {"events": list(events), "supervision": list(supervision), "notices": list(notices)}


def done_by_the_jobs(url: str) -> dict[str, int]:
    """How many tasks are flagged overdue, timers fired and 督办 tasks opened."""
    with db.get_engine(url).connect() as conn:
        flagged = conn.execute(select(func.count()).where(TASK.c.overdue_since.is_not(None))).scalar_one()
        fired = conn.execute(select(func.count()).where(EVENT.c.type == "timer_fired")).scalar_one()
        supervised = conn.execute(select(func.count()).where(TASK.c.form_key == "supervision")).scalar_one()
    return {"flagged": flagged, "fired": fired, "supervision": supervised}


@pytest.fixture
def overdue_cases(case_engine: Any) -> list[str]:
    """Cases started long ago: two at 初审 (overdue), four dispatched to departments (overdue, 督办 due)."""
    with clock.frozen_at(STARTED):
        waiting = [start(case_engine) for _ in range(2)]
        dispatched = [start(case_engine, township="T02", village="T02V01") for _ in range(4)]
        for i, case_no in enumerate(dispatched):
            dispatch(case_engine, case_no, ("minzheng", "renshe", "zhujian", "yibao")[i])
    db.get_engine(case_engine.database_url).dispose()
    return waiting + dispatched


def test_two_hosts_hand_the_lease_over_and_run_no_job_twice(
        clean_db: str, overdue_cases: list[str], launch: Callable[..., subprocess.Popen[bytes]]) -> None:
    """Two gunicorn servers answer; of two schedulers one holds the lease and does the overdue work; SIGKILL on it
    hands the lease to the other within TTL + interval (+ a margin); nothing is flagged, fired or told twice."""
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        launch(f"web{i}", str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "web:create_app()",
               RELIEF_BIND=f"127.0.0.1:{port}")
    schedulers = {launch(f"scheduler{i}", str(BIN / "relief"), "scheduler", "run", "--interval", str(INTERVAL),
                         "--ttl", str(TTL)).pid: i for i in range(2)}
    for port in ports:
        wait_for(f"the app server on port {port}", lambda port=port: answers_login(port), 60)
    first = wait_for("a scheduler holding the lease", lambda: lease_holder(clean_db), 30)
    assert pid_of(first) in schedulers
    work = wait_for("the overdue work done", lambda: (done := done_by_the_jobs(clean_db))["supervision"] == 4
                    and done, 30)
    assert work["flagged"] >= len(overdue_cases) and work["fired"] == 4
    time.sleep(2 * INTERVAL)  # the holder ticks again (renewing); the other stands by
    assert lease_holder(clean_db) == first
    os.killpg(pid_of(first), signal.SIGKILL)
    killed_at = time.monotonic()
    handed_over = TTL + INTERVAL + MARGIN
    second = wait_for("the other scheduler taking the lease",
                      lambda: (holder := lease_holder(clean_db)) and holder != first and holder, handed_over)
    assert time.monotonic() - killed_at <= handed_over
    assert pid_of(second) in schedulers and pid_of(second) != pid_of(first)
    time.sleep(3 * INTERVAL)  # the new holder runs the same jobs over the same tasks a few times
    assert lease_holder(clean_db) == second
    assert duplicates(clean_db) == {"events": [], "supervision": [], "notices": []}
    after = done_by_the_jobs(clean_db)
    assert (after["fired"], after["supervision"]) == (work["fired"], work["supervision"])
    assert all(answers_login(port) for port in ports)
