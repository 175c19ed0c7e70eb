"""/healthz, /readyz and /metrics (issue 15): what the process manager, the balancer and Prometheus read."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text, update

from engine import clock, db
from engine.deadlines import lease
from engine.deadlines.scheduler import LEASE_NAME
from engine.models import Notification
from engine.operations import head_revisions
from engine.tables import TASK
from tests.support.cases import start
from tests.support.db import tx
from tests.support.web import make_app

TTL = timedelta(seconds=180)
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}


def sample(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, or None when it is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        found = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if found and found.group(1) == name:
            given = ",".join(sorted((found.group(2) or "").split(","))) if found.group(2) else ""
            if given == wanted:
                return float(found.group(3))
    return None


def add_notice(demo_db: str, **values: Any) -> None:
    """One outbox row (an SMS to an applicant)."""
    row = {"case_no": "C-TEST", "recipient": "applicant", "channel": "sms", "kind": "received",
           "content": "您的救助申请已受理登记", "details": {}, "status": "pending", "created_at": clock.now(), **values}
    with tx(demo_db) as session:
        session.add(Notification(**row))


def take_lease(demo_db: str, holder: str = "host-a:42:beef", at: Any = None) -> None:
    lease.try_acquire(db.session_factory(demo_db), LEASE_NAME, holder, at or clock.now(), TTL)


def test_healthz_answers_without_the_database(demo_db: str, tmp_path: Path) -> None:
    """/healthz says ok while the database is down; /readyz then answers 503 naming the database."""
    app = make_app(demo_db, tmp_path, DATABASE_URL="postgresql+psycopg://relief@127.0.0.1:1/none")
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["reasons"] == ["database unreachable"] and ready.json["checks"]["database"]["ok"] is False


def test_readyz_reports_the_scheduler_lease_without_failing_on_it(client: FlaskClient, demo_db: str) -> None:
    """The lease is reported (holder, freshness) and warned about, but a stopped scheduler does not take every
    app host out of the balancer: without a lease, with a fresh one and once it expired, /readyz is 200."""
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["ready"] is True and response.json["reasons"] == []
    assert response.json["checks"]["database"]["ok"] and response.json["checks"]["migrations"]["ok"]
    assert response.json["warnings"] == ["no scheduler holds the lease (start `relief scheduler run`)"]
    assert response.json["checks"]["scheduler"] == {"ok": False, "lease": None}
    take_lease(demo_db)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["warnings"] == []
    scheduler = response.json["checks"]["scheduler"]
    assert scheduler["ok"] and scheduler["lease"]["holder"] == "host-a:42:beef" and scheduler["lease"]["fresh"]
    assert response.json["checks"]["migrations"]["current"] == list(head_revisions())
    lease.release(db.session_factory(demo_db), LEASE_NAME, "host-a:42:beef")
    take_lease(demo_db, "host-b:7:cafe", clock.now() - 2 * TTL)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["checks"]["scheduler"]["lease"]["fresh"] is False
    assert "host-b:7:cafe" in response.json["warnings"][0] and "expired" in response.json["warnings"][0]


def test_readyz_wants_the_migrations_at_head(client: FlaskClient, demo_db: str) -> None:
    """A database one migration behind is not ready: the reason says to run `relief init-db`."""
    take_lease(demo_db)
    [head] = head_revisions()
    with tx(demo_db) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0021'"))
    try:
        response = client.get("/readyz")
    finally:
        with tx(demo_db) as session:
            session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert response.status_code == 503
    assert response.json["reasons"] == ["migrations not at head (run `relief init-db`)"]
    assert response.json["checks"]["migrations"] == {"ok": False, "current": ["0021"], "head": [head]}


def test_metrics_only_for_the_token_or_an_allowed_address(demo_db: str, tmp_path: Path) -> None:
    """127.0.0.1 may read /metrics; another address needs RELIEF_METRICS_TOKEN as a bearer token, else 403."""
    app = make_app(demo_db, tmp_path, METRICS_TOKEN="s3cret-scrape-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_overrides=ELSEWHERE).status_code == 403
    wrong = {"Authorization": "Bearer not-it"}
    assert client.get("/metrics", environ_overrides=ELSEWHERE, headers=wrong).status_code == 403
    right = {"Authorization": "Bearer s3cret-scrape-token"}
    response = client.get("/metrics", environ_overrides=ELSEWHERE, headers=right)
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    networks = make_app(demo_db, tmp_path, METRICS_ALLOW="10.0.0.0/8").test_client()
    assert networks.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.2.3.4"}).status_code == 200
    assert networks.get("/metrics").status_code == 403  # the list replaces the default


def test_metrics_count_tasks_outbox_and_the_scheduler(app: Flask, client: FlaskClient, engine: Any,
                                                      demo_db: str) -> None:
    """The gauges are read at scrape time: open and overdue tasks, outbox backlog and failures, lease and ticks."""
    body = client.get("/metrics").data.decode()
    assert sample(body, "relief_tasks_open") == 0 and sample(body, "relief_tasks_overdue") == 0
    assert sample(body, "relief_scheduler_lease_fresh") == 0 and sample(body, "relief_scheduler_ticks_total") is None
    first, second = start(engine), start(engine)
    with tx(demo_db) as session:  # one of them is past its due time
        session.execute(update(TASK).where(TASK.c.case_no == first).values(due_at=clock.now() - timedelta(days=1)))
    receipts = sample(client.get("/metrics").data.decode(), "relief_outbox_backlog", channel="sms") or 0
    add_notice(demo_db, channel="sms", status="failed")
    add_notice(demo_db, channel="sms", status="retrying")
    take_lease(demo_db)
    assert lease.record_tick(db.session_factory(demo_db), LEASE_NAME, "host-a:42:beef", clock.now())
    assert lease.record_tick(db.session_factory(demo_db), LEASE_NAME, "host-a:42:beef", clock.now())
    assert not lease.record_tick(db.session_factory(demo_db), LEASE_NAME, "someone-else", clock.now())
    body = client.get("/metrics").data.decode()
    assert second and sample(body, "relief_tasks_open") == 2 and sample(body, "relief_tasks_overdue") == 1
    assert sample(body, "relief_outbox_failed", channel="sms") == 1
    assert sample(body, "relief_outbox_backlog", channel="sms") == receipts + 1  # the retrying one
    assert sample(body, "relief_scheduler_ticks_total") == 2
    assert sample(body, "relief_scheduler_lease_fresh") == 1
    assert sample(body, "relief_scheduler_lease_info", holder="host-a:42:beef") == 1
    expires = sample(body, "relief_scheduler_lease_expires_timestamp_seconds")
    assert expires is not None and expires > clock.now().timestamp()


def test_metrics_time_requests_by_endpoint_method_and_status_class(client: FlaskClient) -> None:
    """Each answered request lands in the latency histogram under its endpoint; unknown URLs share one label."""
    def count(body: str, **labels: str) -> float:
        return sample(body, "relief_http_request_duration_seconds_count", **labels) or 0

    before = client.get("/metrics").data.decode()
    client.get("/login")
    client.get("/no/such/page-1")
    client.get("/no/such/page-2")
    after = client.get("/metrics").data.decode()
    assert count(after, endpoint="auth.login", method="GET", status="2xx") == count(
        before, endpoint="auth.login", method="GET", status="2xx") + 1
    assert count(after, endpoint="unmatched", method="GET", status="4xx") == count(
        before, endpoint="unmatched", method="GET", status="4xx") + 2
    assert "/no/such" not in after
