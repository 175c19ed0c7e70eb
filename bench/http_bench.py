"""Requests per second over real HTTP: the production server (gunicorn) with 1 and with 8 clients.

A temp instance dir and a fresh database get the schema (`relief init-db`), the linkage flow
(`relief deploy processes/relief_linkage.bpmn --by bench`) and the demo county (`relief demo-data`);
then --cases cases are started through the engine, so that many triage tasks are open, and API
tokens are issued to the demo users center1 and mz1, one per client. The server runs as a
subprocess on a free port: gunicorn with deploy/gunicorn.conf.py (workers as the conf picks
them unless --workers), or with `--server flask` the single-process `flask --app web run`.

Each client is a thread with one keep-alive connection (http.client). Three workloads, each
measured with 1 client and with 8 in turn, --repeat times, after a warm-up that reaches every worker:
  complete  a client takes the next case and walks it over REST: center1 completes 初审 (triage,
            eligible, to 民政), then mz1 受理告知 and 办结反馈, each task id taken from the answer;
  inbox     GET /api/v1/tasks as center1 (page 1 of every open task the center sees);
  baseline  GET /login, a page without database work: what the server and the clients cost.
Shown: requests/s, p50/p95 latency of the median run (by requests/s), and the throughput ratio
8 clients ÷ 1 client. The clients share the machine with the server (and PostgreSQL), so the
ratio of the baseline is the most any workload can reach here.

Usage: python bench/http_bench.py [--quick] [--cases N] [--seconds S] [--repeat N] [--database-url URL]
                                  [--server gunicorn|flask] [--workers N] [--worker-class sync|gthread]
                                  [--threads N] [--log FILE]
--quick is a smoke run (fewer cases, one short run each). A PostgreSQL URL must name a database
whose name contains "bench" or "test": its tables are dropped and recreated. Nothing is written
into the repository: instance dir, uploads, logs and the SQLite file live in a temp dir. The last
line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import runpy
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from scheduler_bench import empty_database  # noqa: E402

from engine import db  # noqa: E402
from engine.cases.runtime import CaseEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
CONF = ROOT / "deploy" / "gunicorn.conf.py"
API = "/api/v1"
CLIENTS = (1, 8)
QUICK = {"cases": 200, "seconds": 2.0, "repeat": 1, "warmup": 1.0}  # what --quick sets
WARMUP_SECONDS = 3.0
REGIONS = (("T01", "T01V01"), ("T01", "T01V02"), ("T02", "T02V01"), ("T02", "T02V02"))
APPLICANT = {"name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
             "request": "因病致贫，申请医疗救助和临时救助"}
# The walk of one case: (form key, the user whose token completes it, the form data); the one-department
# path of bench/engine_bench.py up to 办结反馈 (the center's 办结 summary is left open).
WALK = (("triage", "center1", {"decision": "eligible", "departments": ["minzheng"]}),
        ("dept_accept", "mz1", {"materials": ["身份证"], "location": "县民政局1号窗口", "field_work": "none"}),
        ("dept_result", "mz1", {"outcome": "approved", "content": "予以救助", "amount": 1000}))
USERS = ("center1", "mz1")
# The API allows 300 requests a minute per token by default; the bench measures the server, not that.
RATE_LIMIT = "1000000 per minute"


@dataclass
class Run:
    """What one workload measured with one number of clients."""

    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return 1000 * (self.latencies[0] if self.latencies else float("nan"))
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


class Client:
    """One keep-alive HTTP connection; http.client opens a new one when the server closes it."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, token: str | None = None,
             body: dict[str, Any] | None = None) -> tuple[int, bytes, float]:
        """Send one request and read the whole answer: (status, body, seconds)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.connection.request(method, path, payload, headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started

    def close(self) -> None:
        self.connection.close()


@dataclass
class World:
    """What the clients work on: the open triage tasks (a queue every client takes from) and the tokens."""

    port: int
    triage_tasks: queue.SimpleQueue[str]
    tokens: dict[str, list[str]]  # user → one token per client


# -- setting up ---------------------------------------------------------------------------


def fresh_database(url: str | None, tmp: Path) -> str:
    """A new SQLite file, or the given PostgreSQL database emptied (`relief init-db` migrates it)."""
    url = empty_database(url, tmp / "bench.db")
    db.get_engine(url).dispose()
    return url


def environment(url: str, tmp: Path) -> dict[str, str]:
    """The environment of the CLI and the server: everything of the run in the temp dir, no scheduler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIEF_")}
    env.update(PYTHONPATH=str(ROOT), RELIEF_DATABASE_URL=url, RELIEF_INSTANCE_DIR=str(tmp / "instance"),
               RELIEF_UPLOAD_DIR=str(tmp / "uploads"), RELIEF_SCHEDULER="off", RELIEF_API_RATE_LIMIT=RATE_LIMIT)
    return env


def relief(env: dict[str, str], *args: str) -> None:
    """Run a `relief` command of this checkout, as an operator would."""
    command = [sys.executable, "-c", "from engine.cli import main; main(prog_name='relief')", *args]
    done = subprocess.run(command, env=env, cwd=env["RELIEF_INSTANCE_DIR"], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"relief {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def prepare(url: str, env: dict[str, str], cases: int) -> tuple[list[str], dict[str, list[str]]]:
    """Set up the database as `make db` does, start `cases` cases; return their triage task ids and the tokens."""
    engine, triage = seed_cases(env, cases)
    tokens = {user: [engine.accounts.create_token(user) for _ in range(max(CLIENTS))] for user in USERS}
    db.get_engine(url).dispose()  # the server's workers open their own connections
    return triage, tokens


def seed_cases(env: dict[str, str], cases: int) -> tuple[CaseEngine, list[str]]:
    """Set the database up as `make db` does and start `cases` window cases across the regions; return the
    engine and their open triage task ids (load_bench seeds the same way)."""
    Path(env["RELIEF_INSTANCE_DIR"]).mkdir(parents=True)
    relief(env, "init-db")
    relief(env, "deploy", str(BPMN), "--by", "bench")
    relief(env, "demo-data")
    engine = CaseEngine(Settings.from_environ(env))
    for i in range(cases):
        township, village = REGIONS[i % len(REGIONS)]
        engine.start_case({**APPLICANT, "region": {"township": township, "village": village}}, "window",
                          "village", actor="clerk_c", org="center")
    triage = [t["id"] for t in engine.queries.list_tasks(group="center") if t["form_key"] == "triage"]
    return engine, triage


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(args: argparse.Namespace, port: int) -> list[str]:
    """The command line of the server under test."""
    if args.server == "flask":
        return [sys.executable, "-m", "flask", "--app", "web", "run", "--host", "127.0.0.1", "--port", str(port)]
    # The command line wins over the conf file.
    return [sys.executable, "-m", "gunicorn", "-c", str(CONF), "--worker-class", args.worker_class,
            "--threads", str(args.threads), "web:create_app()"]


@contextmanager
def serving(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> Iterator[int]:
    """Run the server (its own process group) while the block runs; yield its port; always stop it."""
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(server_command(args, port), env={**env, "RELIEF_BIND": f"127.0.0.1:{port}"},
                                  cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(server, port, log)
        yield port
    finally:
        stop(server)
        if args.log:
            shutil.copy(log, args.log)


def wait_until_serving(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once the server answers; exit with its log when it dies or takes a minute."""
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log.read_text()}")
        client = Client(port)
        try:
            if client.call("GET", f"{API}/openapi.json")[0] == 200:
                return
        except OSError:
            pass
        finally:
            client.close()
        time.sleep(0.2)
    sys.exit(f"the server did not answer within a minute:\n{log.read_text()}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: SIGTERM to its process group, SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def conf_setting(env: dict[str, str], name: str) -> Any:
    """What deploy/gunicorn.conf.py sets `name` to in `env`."""
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        return runpy.run_path(str(CONF))[name]
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- the workloads ------------------------------------------------------------------------

# One step of a client: make a request or a few, record them in the run; False when there is no more work.
Step = Callable[[Client, int, Run, float], bool]


def record(run: Run, answer: tuple[int, bytes, float], what: str) -> bool:
    """Count one answer: its latency when it is a 200, else an error; say whether it was a 200."""
    status, body, seconds = answer
    if status != 200:
        run.errors.append(f"{what}: {status} {body[:200]!r}")
        return False
    run.latencies.append(seconds)
    return True


def complete(world: World) -> Step:
    """Walk the next case through WALK, one POST per task, until the deadline."""

    def step(client: Client, i: int, run: Run, deadline: float) -> bool:
        try:
            task_id: str | None = world.triage_tasks.get_nowait()
        except queue.Empty:
            return False
        for form_key, user, data in WALK:
            if task_id is None or time.perf_counter() >= deadline:
                break
            answer = client.call("POST", f"{API}/tasks/{task_id}/complete", world.tokens[user][i], {"data": data})
            if not record(run, answer, form_key):
                break
            opened = json.loads(answer[1])["open_tasks"]
            task_id = next((t["id"] for t in opened if t["form_key"] != form_key), None)
        return True

    return step


def inbox(world: World) -> Step:
    """GET the center's task list through the API (one token per client)."""

    def step(client: Client, i: int, run: Run, _deadline: float) -> bool:
        record(run, client.call("GET", f"{API}/tasks", world.tokens["center1"][i]), "inbox")
        return True

    return step


def baseline(_world: World) -> Step:
    """GET /login: Flask, the session cookie and a template, no database."""

    def step(client: Client, _i: int, run: Run, _deadline: float) -> bool:
        record(run, client.call("GET", "/login"), "baseline")
        return True

    return step


WORKLOADS: dict[str, Callable[[World], Step]] = {"complete": complete, "inbox": inbox, "baseline": baseline}


# -- measuring ----------------------------------------------------------------------------


def measure(port: int, clients: int, seconds: float, step: Step) -> Run:
    """Run `clients` threads calling `step` until `seconds` have passed (or a step says stop)."""
    runs = [Run(clients, seconds) for _ in range(clients)]
    connections = [Client(port) for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def loop(i: int) -> None:
        start.wait()
        while time.perf_counter() < deadline and step(connections[i], i, runs[i], deadline):
            pass

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    total = Run(clients, time.perf_counter() - began)  # until the last answer, past the deadline
    for run, connection in zip(runs, connections, strict=True):
        total.latencies += run.latencies
        total.errors += run.errors
        connection.close()
    return total


def measure_all(world: World, seconds: float, warmup: float, repeat: int) -> tuple[dict[str, dict[int, Run]], int]:
    """Each workload with 1 and 8 clients, `repeat` times in turn after a warm-up: the median runs, the errors."""
    results: dict[str, dict[int, Run]] = {}
    errors = 0
    for name, workload in WORKLOADS.items():
        # A worker's first requests load the spec and fill its caches; the warm-up should reach every worker.
        warm = measure(world.port, max(CLIENTS), warmup, workload(world))
        if warm.errors:
            sys.exit(f"{name}: the warm-up failed: {warm.errors[:3]}")
        runs: dict[int, list[Run]] = {clients: [] for clients in CLIENTS}
        for attempt in range(1, repeat + 1):
            for clients in CLIENTS:  # in turn, so that a slow spell of the machine hits both alike
                run = measure(world.port, clients, seconds, workload(world))
                runs[clients].append(run)
                print_row(f"{name} #{attempt}", run)
                for error in run.errors[:3]:
                    print(f"    error: {error}")
                errors += len(run.errors)
        results[name] = {clients: sorted(found, key=lambda r: r.rps)[len(found) // 2]
                         for clients, found in runs.items()}
    return results, errors


def print_row(label: str, run: Run) -> None:
    """One line of the table."""
    print(f"{label:<14}{run.clients:>8}{len(run.latencies):>10}{len(run.errors):>8}{run.rps:>10.1f}"
          f"{run.percentile_ms(50):>10.1f}{run.percentile_ms(95):>10.1f}", flush=True)


def ratio(runs: dict[int, Run]) -> float:
    """Requests/s with the most clients ÷ with one (nan when the one-client run did nothing)."""
    low, high = CLIENTS
    return runs[high].rps / runs[low].rps if runs[low].rps else float("nan")


def summary(results: dict[str, dict[int, Run]], head: dict[str, Any], errors: int) -> str:
    """The one-line summary: per workload requests/s with 1 and 8 clients, their ratio, p50/p95 of each."""
    values = dict(head)
    for name, runs in results.items():
        values.update({f"{name}_rps_{c}": f"{runs[c].rps:.1f}" for c in CLIENTS})
        values[f"{name}_ratio"] = f"{ratio(runs):.2f}"
        for c in CLIENTS:
            values[f"{name}_p50_ms_{c}"] = f"{runs[c].percentile_ms(50):.1f}"
            values[f"{name}_p95_ms_{c}"] = f"{runs[c].percentile_ms(95):.1f}"
    values["errors"] = errors
    return "summary: " + " ".join(f"{k}={v}" for k, v in values.items())


def server_settings(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Resolve the server's workers, worker class and threads (the conf's unless given) for its command line."""
    if args.workers:
        env["RELIEF_WORKERS"] = str(args.workers)
    args.worker_class = args.worker_class or conf_setting(env, "worker_class")
    # gunicorn makes a sync worker with more than one thread a gthread worker.
    args.threads = args.threads or (1 if args.worker_class == "sync" else conf_setting(env, "threads"))
    if args.server == "flask":  # one process, a thread per request
        return {"server": "flask", "workers": 1, "worker_class": "threaded", "threads": "-"}
    return {"server": "gunicorn", "workers": conf_setting(env, "workers"), "worker_class": args.worker_class,
            "threads": args.threads}


def report(results: dict[str, dict[int, Run]], head: dict[str, Any], errors: int) -> None:
    """Print the median runs with the ratios, then the summary line."""
    print(f"\nmedian run of {head['repeat']} by requests/s:")
    low, high = CLIENTS
    for name, runs in results.items():
        for clients in CLIENTS:
            print_row(name, runs[clients])
        print(f"{'':<14}ratio {high} clients ÷ {low} client: {ratio(runs):.2f}")
    print(summary(results, head, errors))


def run_bench(args: argparse.Namespace, tmp: Path) -> None:
    """Set up, serve, measure, print the table, the ratios and the summary."""
    url = fresh_database(args.database_url, tmp)
    env = environment(url, tmp)
    began = time.perf_counter()
    triage, tokens = prepare(url, env, args.cases)
    print(f"set up: {args.cases} cases started, {len(triage)} triage tasks open "
          f"({time.perf_counter() - began:.1f} s)", flush=True)
    head = {"database": url.split("://")[0].split("+")[0], **server_settings(args, env),
            "open_tasks": len(triage), "seconds": f"{args.seconds:g}", "repeat": args.repeat,
            "load_before": f"{os.getloadavg()[0]:.2f}"}
    print(", ".join(f"{k}: {v}" for k, v in head.items()))
    print(f"{'workload':<14}{'clients':>8}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}")
    tasks: queue.SimpleQueue[str] = queue.SimpleQueue()
    for task_id in triage:
        tasks.put(task_id)
    with serving(args, env, tmp) as port:
        results, errors = measure_all(World(port, tasks, tokens), args.seconds, args.warmup, args.repeat)
    head["load_after"] = f"{os.getloadavg()[0]:.2f}"  # the machine's 1-minute load: others' work shows here
    report(results, head, errors)


def main() -> None:
    """Parse the arguments and run the bench in a temp dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000, help="cases started (open triage tasks) before measuring")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload and number of clients")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: --cases {QUICK['cases']} "
                        f"--seconds {QUICK['seconds']:g} --repeat {QUICK['repeat']}")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temp dir")
    parser.add_argument("--server", choices=("gunicorn", "flask"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: as the conf picks)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default=None, help="default: the conf's")
    parser.add_argument("--threads", type=int, default=None, help="threads per gthread worker")
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log (access log) in this file")
    args = parser.parse_args()
    args.warmup = WARMUP_SECONDS
    if args.quick:
        args.cases, args.seconds, args.repeat, args.warmup = (int(QUICK["cases"]), QUICK["seconds"],
                                                              int(QUICK["repeat"]), QUICK["warmup"])
    with tempfile.TemporaryDirectory(prefix="http-bench-") as tmp:
        run_bench(args, Path(tmp))


if __name__ == "__main__":
    main()
