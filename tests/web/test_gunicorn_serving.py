"""The production server as deploy/ runs it: gunicorn with two workers, multiprocess metrics and JSON logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.settings import PROJECT_ROOT

REQUESTS = 12


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def gunicorn(demo_db: str, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """gunicorn -c deploy/gunicorn.conf.py 'web:create_app()' with two workers on the demo database."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {**os.environ, "RELIEF_DATABASE_URL": demo_db, "RELIEF_SECRET_KEY": "gunicorn-test",
           "RELIEF_INSTANCE_DIR": str(tmp_path / "instance"), "RELIEF_UPLOAD_DIR": str(tmp_path / "uploads"),
           "RELIEF_CATALOG_IMAGE_DIR": str(tmp_path / "images"), "RELIEF_BIND": f"127.0.0.1:{port}",
           "RELIEF_WORKERS": "2", "RELIEF_THREADS": "1", "RELIEF_LOG_FORMAT": "json", "RELIEF_SCHEDULER": "off",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "web:create_app()"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{url}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield url, metrics_dir, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_two_workers_count_into_one_scrape_and_log_json(gunicorn: tuple[str, Path, subprocess.Popen[str]]) -> None:
    """Requests served by either worker all count in /metrics (multiprocess mode), each is one JSON log line with
    its request id, and gunicorn's own access log is off."""
    url, metrics_dir, server = gunicorn
    for number in range(REQUESTS):
        status, headers, _ = get(f"{url}/portal/", {"X-Request-ID": f"gunicorn-{number}"})
        assert status == 200 and headers["X-Request-ID"] == f"gunicorn-{number}"
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    status, _, body = get(f"{url}/metrics")
    assert status == 200
    [count] = [line for line in body.splitlines() if line.startswith(
        'relief_http_request_duration_seconds_count{') and 'endpoint="portal.home"' in line]
    assert float(count.rsplit(" ", 1)[1]) == REQUESTS
    assert "relief_tasks_open" in body
    assert list(metrics_dir.glob("histogram_*.db"))
    server.terminate()
    output, errors = server.communicate(timeout=30)
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    served = [line for line in lines if line.get("logger") == "relief.request" and line["endpoint"] == "portal.home"]
    assert sorted(line["request_id"] for line in served) == sorted(f"gunicorn-{n}" for n in range(REQUESTS))
    assert all(line["status"] == 200 and line["remote"] == "127.0.0.1" for line in served)
    plain = [line for line in (output + errors).splitlines() if not line.startswith("{")]
    assert [line for line in plain if "GET /portal/" in line] == []  # gunicorn's access log is off
