"""The deadline scheduler (R-6.2.2): APScheduler runs the deadline jobs in whichever process holds the lease.

Every process that starts a scheduler (the app with RELIEF_SCHEDULER=on, `relief scheduler run`)
schedules the same job; at each run the job first takes or renews the database lease
"relief-scheduler" and does nothing when another process holds it. The lease outlives a few missed
runs (TTL > interval), so a holder that dies is replaced within TTL + interval. The jobs themselves
are idempotent (engine.deadlines), so a run cut short by a crash is finished by the next holder.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from engine import clock
from engine.cases.runtime import CaseEngine
from engine.deadlines import jobs as deadlines
from engine.deadlines import lease
from engine.settings import Settings

log = logging.getLogger(__name__)

LEASE_NAME = "relief-scheduler"
DEADLINE_JOB_ID = "deadline_tick"

Tick = Callable[[CaseEngine, datetime], dict[str, Any]]


class DeadlineJob:
    """The "deadline_tick" job: run the deadline jobs once, only while this process holds the lease."""

    def __init__(self, settings: Settings, holder: str, ttl: timedelta, tick: Tick = deadlines.tick):
        self.settings, self.holder, self.ttl, self.tick = settings, holder, ttl, tick
        # One per scheduler, on the engine's own sessions (no web request around it): its spec
        # cache outlives the runs.
        self.engine = CaseEngine(settings)
        self.holding: bool | None = None  # unknown until the first run
        self.runs = 0

    def __call__(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Take or renew the lease at `now` (default: the engine clock) and tick; None when not the holder."""
        now = clock.aware(now) if now is not None else clock.now()
        holding = lease.try_acquire(self.engine.sessions, LEASE_NAME, self.holder, now, self.ttl)
        if holding and not self.holding:
            log.info("took the scheduler lease (holder %s)", self.holder)
        elif not holding and self.holding is not False:
            log.info("another process holds the scheduler lease; %s stands by", self.holder)
        self.holding = holding
        if not holding:
            return None
        started = time.monotonic()
        report = self.tick(self.engine, now)
        self.runs += 1
        lease.record_tick(self.engine.sessions, LEASE_NAME, self.holder, clock.now())
        if time.monotonic() - started > self.ttl.total_seconds():
            log.warning("the deadline tick outlasted the lease TTL (%s); another process may have started one",
                        self.ttl)
        log.info("deadline tick at %s: %d timers fired, %d tasks flagged overdue, %d reminders, %d notices queued",
                 now.isoformat(), len(report.get("timers_fired", ())), len(report.get("tasks_flagged", ())),
                 len(report.get("reminders", ())), report.get("notices_queued", 0))
        return report

    def release(self) -> None:
        """Give up the lease (if held) so another process can take over without waiting for the TTL."""
        if lease.release(self.engine.sessions, LEASE_NAME, self.holder):
            log.info("released the scheduler lease (holder %s)", self.holder)
        self.holding = False


def build_scheduler(settings: Settings, interval_seconds: int = 60, ttl_seconds: int = 180, *,
                    tick: Tick = deadlines.tick, holder: str | None = None) -> BackgroundScheduler:
    """Return an unstarted scheduler with the "deadline_tick" job every `interval_seconds`."""
    if ttl_seconds <= interval_seconds:
        raise ValueError("the lease TTL must be longer than the interval, or the lease lapses between runs")
    job = DeadlineJob(settings, holder or lease.holder_id(), timedelta(seconds=ttl_seconds), tick)
    scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)})
    # First run at start; runs missed while the process was busy or suspended merge into one.
    scheduler.add_job(job, "interval", seconds=interval_seconds, id=DEADLINE_JOB_ID,
                      name="deadline tick (R-6.2.2)", max_instances=1, coalesce=True,
                      misfire_grace_time=interval_seconds, next_run_time=datetime.now(UTC))
    return scheduler


def deadline_job(scheduler: BackgroundScheduler) -> DeadlineJob:
    """Return the "deadline_tick" job of a scheduler made by `build_scheduler`."""
    job = scheduler.get_job(DEADLINE_JOB_ID)
    if job is None or not isinstance(job.func, DeadlineJob):
        raise LookupError(f"no {DEADLINE_JOB_ID} job in this scheduler")
    return job.func


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop the scheduler, wait for a running tick to finish, then release the lease."""
    job = deadline_job(scheduler)
    if scheduler.running:
        scheduler.shutdown(wait=True)
    job.release()


_background: BackgroundScheduler | None = None
_background_lock = threading.Lock()


def start_in_background(settings: Settings,
                        build: Callable[[Settings], BackgroundScheduler] = build_scheduler) -> BackgroundScheduler:
    """Start the scheduler in a background thread, once per process; it stops at interpreter exit."""
    global _background
    with _background_lock:
        if _background is None:
            scheduler = build(settings)
            scheduler.start()
            atexit.register(stop_background)
            _background = scheduler
            log.info("scheduler started in the background")
        return _background


def stop_background() -> None:
    """Stop the background scheduler started by `start_in_background`, if any, and release its lease."""
    global _background
    with _background_lock:
        scheduler, _background = _background, None
    if scheduler is not None:
        atexit.unregister(stop_background)
        stop_scheduler(scheduler)


class _Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGINT to end `run_forever`."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_forever(settings: Settings, interval_seconds: int = 60, ttl_seconds: int = 180) -> dict[str, Any]:
    """Run the scheduler in the foreground until SIGTERM or SIGINT, then release the lease; report the run."""
    scheduler = build_scheduler(settings, interval_seconds, ttl_seconds)
    job = deadline_job(scheduler)
    stopped_by = ""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        log.info("scheduler running as %s, every %d s, lease TTL %d s", job.holder, interval_seconds, ttl_seconds)
        threading.Event().wait()  # the jobs run in the scheduler's threads; a signal ends this wait
    except _Stop as stop:
        stopped_by = str(stop)
        log.info("%s received, stopping", stopped_by)
    finally:
        for sig in previous:  # a second signal must not cut the release short
            signal.signal(sig, signal.SIG_IGN)
        stop_scheduler(scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return {"holder": job.holder, "stopped_by": stopped_by, "ticks": job.runs}
