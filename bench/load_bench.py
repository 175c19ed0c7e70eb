"""Many staff at once on several hosts: N clients working through inbox → task page → complete against two
gunicorn servers (two masters, each its own port) on one database, with one client first as the baseline.

A temp instance dir (shared by both servers, as shared storage would be: one secret key, so a session signed
by one server is good on the other) and a fresh database get the schema, the linkage flow and the demo
county; then enough cases are started that every round of every client finds an open 初审 (triage) task.
Each client signs in as center1 through the sign-in page (a session cookie, as a browser would) and then,
round after round, sends each request to the next server in turn (round-robin, as a balancer would):
  inbox     GET / — the workbench's inbox page (我的待办);
  task      GET /tasks/<id> — the task page of the next open triage task (its CSRF token is read from it);
  complete  POST /api/v1/tasks/<id>/complete — 初审 answered (eligible, to 民政), with the session and the
            X-CSRFToken header, as the workbench's own script sends it.
Measured: p50/p95 latency per request type and rounds per second with 1 client and with --clients, errors
(any answer other than 200), and the ratios: throughput N clients ÷ 1 client, and each p50 N ÷ 1.

Usage: python bench/load_bench.py [--quick] [--clients N] [--rounds N] [--database-url URL] [--workers N]
--quick: 10 clients, 5 rounds each. A PostgreSQL URL must name a database whose name contains "bench" or
"test": its tables are dropped and recreated. The last line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from http_bench import (  # noqa: E402
    CONF,
    environment,
    free_port,
    fresh_database,
    seed_cases,
    stop,
    wait_until_serving,
)

from engine import db  # noqa: E402

SERVERS = 2
USER, PASSWORD = "center1", "Demo@2026"
TRIAGE = {"decision": "eligible", "departments": ["minzheng"]}
KINDS = ("inbox", "task", "complete")
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class Measured:
    """What one run measured: latencies per request type, errors, rounds done and the wall time."""

    clients: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0

    def percentile_ms(self, kind: str, p: int) -> float:
        found = self.latencies[kind]
        if len(found) < 2:
            return 1000 * (found[0] if found else float("nan"))
        return 1000 * statistics.quantiles(found, n=100, method="inclusive")[p - 1]

    @property
    def rounds_per_second(self) -> float:
        return self.rounds / self.seconds if self.seconds else float("nan")


class Browser:
    """One member of staff: a keep-alive connection to each server, one session cookie, requests round-robin."""

    def __init__(self, ports: list[int], offset: int):
        self.connections = [http.client.HTTPConnection("127.0.0.1", p, timeout=120) for p in ports]
        self.turn = offset  # clients start on different servers
        self.cookie = ""

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """Send one request to the next server; keep the session cookie it sets: (status, body, seconds)."""
        connection = self.connections[self.turn % len(self.connections)]
        self.turn += 1
        sent = {**(headers or {}), **({"Cookie": self.cookie} if self.cookie else {})}
        started = time.perf_counter()
        try:
            response = self._send(connection, method, path, body, sent)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the kept-alive connection while it idled (gunicorn's keepalive): the request
            # never reached a worker, so send it again on a new connection, as a browser does.
            connection.close()
            started = time.perf_counter()
            response = self._send(connection, method, path, body, sent)
        data = response.read()
        elapsed = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data, elapsed

    @staticmethod
    def _send(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> http.client.HTTPResponse:
        connection.request(method, path, body, headers)
        return connection.getresponse()

    def sign_in(self) -> None:
        """Sign in through the sign-in page, as a browser does."""
        status, page, _ = self.call("GET", "/login")
        found = CSRF.search(page)
        if status != 200 or found is None:
            sys.exit(f"the sign-in page answered {status}")
        form = urlencode({"csrf_token": found.group(1).decode(), "username": USER, "password": PASSWORD}).encode()
        status, _, _ = self.call("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            sys.exit(f"signing in as {USER} answered {status}")

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def one_round(browser: Browser, tasks: queue.SimpleQueue[str], run: Measured, lock: threading.Lock) -> bool:
    """Inbox, the next triage task's page, its completion; False when no task is left."""
    try:
        task_id = tasks.get_nowait()
    except queue.Empty:
        return False
    answers = {}
    status, body, seconds = browser.call("GET", "/")
    answers["inbox"] = (status, body, seconds)
    status, page, seconds = browser.call("GET", f"/tasks/{task_id}")
    answers["task"] = (status, page, seconds)
    token = CSRF.search(page)
    if status == 200 and token is not None:
        payload = json.dumps({"data": TRIAGE}).encode()
        answers["complete"] = browser.call("POST", f"/api/v1/tasks/{task_id}/complete", payload,
                                           {"Content-Type": "application/json", "X-CSRFToken": token.group(1).decode()})
    with lock:
        for kind, (code, data, took) in answers.items():
            if code == 200:
                run.latencies[kind].append(took)
            else:
                run.errors.append(f"{kind}: {code} {data[:160]!r}")
        run.rounds += 1
    return True


def measure(ports: list[int], clients: int, rounds: int, tasks: queue.SimpleQueue[str]) -> Measured:
    """`clients` threads, each signed in, doing `rounds` rounds once all have started."""
    run = Measured(clients)
    lock = threading.Lock()
    browsers = [Browser(ports, i) for i in range(clients)]
    for browser in browsers:
        browser.sign_in()
    start = threading.Barrier(clients + 1)

    def work(browser: Browser) -> None:
        start.wait()
        for _ in range(rounds):
            try:
                if not one_round(browser, tasks, run, lock):
                    break
            except OSError as err:  # no answer at all: an error of the run, not the end of the bench
                with lock:
                    run.errors.append(f"connection: {err!r}")

    threads = [threading.Thread(target=work, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began
    for browser in browsers:
        browser.close()
    return run


def seed(env: dict[str, str], cases: int) -> list[str]:
    """Set the database up as `make db` does and start `cases` cases; return their open triage task ids."""
    _engine, triage = seed_cases(env, cases)
    db.get_engine(env["RELIEF_DATABASE_URL"]).dispose()  # the servers' workers open their own connections
    return triage


@contextmanager
def serving(env: dict[str, str], tmp: Path, workers: int) -> Iterator[list[int]]:
    """Two gunicorn masters (each its own process group and port) on the same database and instance dir."""
    ports = [free_port() for _ in range(SERVERS)]
    with ExitStack() as stack:
        for i, port in enumerate(ports):
            log = (tmp / f"server{i}.log").open("wb")
            stack.callback(log.close)
            server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(CONF), "web:create_app()"],
                                      env={**env, "RELIEF_BIND": f"127.0.0.1:{port}", "RELIEF_WORKERS": str(workers)},
                                      cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            stack.callback(stop, server)
            wait_until_serving(server, port, tmp / f"server{i}.log")
        yield ports


def print_run(label: str, run: Measured) -> None:
    """One block of the table: a line per request type."""
    for kind in KINDS:
        print(f"{label:<10}{run.clients:>8}{kind:>10}{len(run.latencies[kind]):>10}"
              f"{run.percentile_ms(kind, 50):>10.1f}{run.percentile_ms(kind, 95):>10.1f}", flush=True)
    print(f"{'':<10}{'':>8}{'rounds/s':>10}{run.rounds_per_second:>10.2f}   errors {len(run.errors)}", flush=True)
    for error in run.errors[:3]:
        print(f"    error: {error}")


def summary(head: dict[str, Any], one: Measured, many: Measured) -> str:
    """The one-line summary: p50/p95 per request type with 1 and N clients, rounds/s, the ratios, errors."""
    values = dict(head)
    n = many.clients
    for kind in KINDS:
        for run, c in ((one, 1), (many, n)):
            values[f"{kind}_p50_ms_{c}"] = f"{run.percentile_ms(kind, 50):.1f}"
            values[f"{kind}_p95_ms_{c}"] = f"{run.percentile_ms(kind, 95):.1f}"
        values[f"{kind}_p50_ratio"] = f"{many.percentile_ms(kind, 50) / one.percentile_ms(kind, 50):.2f}"
    values["rounds_per_s_1"] = f"{one.rounds_per_second:.2f}"
    values[f"rounds_per_s_{n}"] = f"{many.rounds_per_second:.2f}"
    values["throughput_ratio"] = f"{many.rounds_per_second / one.rounds_per_second:.2f}"
    values["errors"] = len(one.errors) + len(many.errors)
    return "summary: " + " ".join(f"{k}={v}" for k, v in values.items())


def run_bench(args: argparse.Namespace, tmp: Path) -> None:
    """Set up, serve on two masters, measure 1 client then N, print the table and the summary."""
    url = fresh_database(args.database_url, tmp)
    env = environment(url, tmp)
    env["RELIEF_ARCHIVE_DIR"] = str(tmp / "archive")
    baseline_rounds = max(args.rounds, 10)
    warm_clients = min(args.clients, 2 * SERVERS * args.workers)  # enough to reach every worker's caches
    needed = warm_clients + baseline_rounds + args.clients * args.rounds
    began = time.perf_counter()
    triage = seed(env, needed)
    print(f"set up: {needed} cases started, {len(triage)} triage tasks open ({time.perf_counter() - began:.1f} s)")
    tasks: queue.SimpleQueue[str] = queue.SimpleQueue()
    for task_id in triage:
        tasks.put(task_id)
    head = {"database": url.split("://")[0].split("+")[0], "servers": SERVERS, "workers_each": args.workers,
            "clients": args.clients, "rounds": args.rounds, "load_before": f"{os.getloadavg()[0]:.2f}"}
    print(", ".join(f"{k}: {v}" for k, v in head.items()))
    print(f"{'run':<10}{'clients':>8}{'request':>10}{'count':>10}{'p50 ms':>10}{'p95 ms':>10}")
    with serving(env, tmp, args.workers) as ports:
        warm = measure(ports, warm_clients, 1, tasks)
        if warm.errors:
            sys.exit(f"the warm-up failed: {warm.errors[:3]}")
        one = measure(ports, 1, baseline_rounds, tasks)
        print_run("1 client", one)
        many = measure(ports, args.clients, args.rounds, tasks)
        print_run(f"{args.clients} clients", many)
    head["load_after"] = f"{os.getloadavg()[0]:.2f}"
    print(f"ratios {args.clients} clients ÷ 1: throughput {many.rounds_per_second / one.rounds_per_second:.2f}, "
          + ", ".join(f"{k} p50 {many.percentile_ms(k, 50) / one.percentile_ms(k, 50):.2f}" for k in KINDS))
    print(summary(head, one, many))


def main() -> None:
    """Parse the arguments and run the bench in a temp dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients of the loaded run")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (inbox → task → complete) per client")
    parser.add_argument("--quick", action="store_true", help="a smoke run: --clients 10 --rounds 5")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temp dir")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each of the two servers")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.rounds = 10, 5
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        run_bench(args, Path(tmp))


if __name__ == "__main__":
    main()
