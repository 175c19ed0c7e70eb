"""Gunicorn settings for the production server: `gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'`.

RELIEF_BIND (default 127.0.0.1:8000), RELIEF_WORKERS (default 2 × CPUs + 1, at most 12) and
RELIEF_THREADS (default 2) choose where and how many; the app takes every other RELIEF_* variable
as usual. The deadline jobs do not run here: `relief scheduler run` is a process of its own.

Metrics with several workers: set PROMETHEUS_MULTIPROC_DIR to a directory of the server's own
(deploy/relief-web.service: /run/relief-web). Each worker then writes its request counts there and
/metrics adds up every worker's (prometheus_client's multiprocess mode); `on_starting` empties it and
`child_exit` marks a dead worker's files (`mark_process_dead`), as prometheus_client asks.
"""

import os
from pathlib import Path

from engine.settings import Settings

bind = os.environ.get("RELIEF_BIND", "127.0.0.1:8000")

# Each worker keeps its own parsed process specs, cached workflows and database pool, so a worker
# costs memory and (on PostgreSQL) connections; past a dozen the database, not the server, limits.
workers = int(os.environ.get("RELIEF_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 12))

# gthread, two threads a worker: a request is mostly Python (running and storing the workflow) with
# a dozen short database calls in between. Processes give the CPUs; a second thread runs while the
# first waits for the database (PostgreSQL round trips, SQLite's write lock), and it keeps
# connections alive, so a client (or a proxy's keep-alive pool) stays on one worker, whose cached
# workflow of the case it just worked on is still current. bench/http_bench.py measures it
# (--worker-class sync to compare): as fast or faster on both databases.
worker_class = "gthread"
threads = int(os.environ.get("RELIEF_THREADS") or 2)
keepalive = 5

# A worker that stops answering the master's heartbeat this long is killed and replaced; a request
# of ten 10 MB materials over a slow line must fit.
timeout = 60
graceful_timeout = 30

# A worker's workflow cache keeps one workflow per case it stepped (about 30 kB each, more as a
# case grows); restarting workers now and then bounds it. The jitter keeps them from restarting at once.
max_requests = 10000
max_requests_jitter = 1000

# The app is built in each worker after the fork: SQLAlchemy's pool and its SQLite or PostgreSQL
# connections must not be shared across processes.
preload_app = False

# With RELIEF_LOG_FORMAT=json (production's default) the app writes one JSON line per request itself
# (web/request_log.py, with the request id); gunicorn's plain access log would repeat it.
accesslog = None if Settings.from_environ().log_format == "json" else "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"

# No control socket: its default path in $HOME is the same for every gunicorn of the user (a second
# instance, the bench's say, would take it over); the process manager stops and reloads the server.
control_socket_disable = True


def on_starting(server):  # noqa: ARG001 (gunicorn's hook signature)
    """Start the metrics of this server afresh: remove what workers of an earlier run left."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for leftover in Path(directory).glob("*.db"):
            leftover.unlink()


def child_exit(server, worker):  # noqa: ARG001 (gunicorn's hook signature)
    """A worker ended: its live gauges leave the metrics (its counters and histograms stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
