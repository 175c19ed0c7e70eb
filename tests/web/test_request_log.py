"""JSON logs with a request id (issue 15): one line per request and one per engine action, no personal data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from engine import logs
from engine.settings import Settings, SettingsError
from tests.support.web import DEMO_PASSWORD, make_app

APPLICATION = {  # a window registration, as the clerk types it
    "kind": "application", "name": "赵六", "id_number": "34052419800101001X", "phone": "13800138000",
    "township": "T01", "village": "T01V01", "address": "城东街道东湖社区3栋201室",
    "request": "因病致贫，申请医疗救助和临时救助", "matters": ["yiliao", "linshi"],
}


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "relief.request"]


def action_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "relief.engine"]


def test_one_line_per_request_with_its_facts(login: Callable[[str], FlaskClient],
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A request logs method, path (no query), endpoint, status, ms, user, request_id and remote; its id is echoed."""
    client = login("center1")
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = client.get("/cases/?q=SJ2026", headers={"X-Request-ID": "lb-7f3a.01_x"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.01_x"
    [line] = request_lines(caplog)
    facts = {key: getattr(line, key) for key in ("method", "path", "endpoint", "status", "user", "request_id",
                                                 "remote")}
    assert facts == {"method": "GET", "path": "/cases/", "endpoint": "cases.index", "status": 200, "user": "center1",
                     "request_id": "lb-7f3a.01_x", "remote": "127.0.0.1"}
    assert isinstance(line.ms, float) and line.ms >= 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("given", ["x" * 65, "bad id", "semi;colon", "中文", ""])
def test_an_insane_request_id_is_replaced(client: FlaskClient, caplog: pytest.LogCaptureFixture, given: str) -> None:
    """An X-Request-ID that is too long or has other characters is replaced by a fresh one (32 hex digits)."""
    caplog.set_level(logging.INFO)
    response = client.get("/healthz", headers={"X-Request-ID": given})
    echoed = response.headers["X-Request-ID"]
    assert echoed != given and len(echoed) == 32 and int(echoed, 16) >= 0
    assert request_lines(caplog)[-1].request_id == echoed  # type: ignore[attr-defined]


def test_every_response_gets_a_fresh_id(client: FlaskClient) -> None:
    """Without the header each request gets its own id."""
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_engine_actions_log_one_line_each_with_the_request_id(
        client: FlaskClient, login: Callable[[str], FlaskClient], caplog: pytest.LogCaptureFixture) -> None:
    """A sign-in (audit) and a window registration (case events) log the action, actor and target under the
    request's id, and never the applicant's personal data."""
    caplog.set_level(logging.INFO)
    client.post("/login", data={"username": "clerk_c", "password": DEMO_PASSWORD}, headers={"X-Request-ID": "r-1"})
    [signed_in] = [r for r in action_lines(caplog) if r.action == "login"]  # type: ignore[attr-defined]
    assert (signed_in.kind, signed_in.actor, signed_in.request_id) == ("audit", "clerk_c", "r-1")  # type: ignore[attr-defined]
    caplog.clear()
    response = client.post("/intake/new", data=APPLICATION, headers={"X-Request-ID": "r-2"})
    assert response.status_code == 302, response.data.decode()[:500]
    events = [r for r in action_lines(caplog) if r.kind == "case_event"]  # type: ignore[attr-defined]
    assert events and {r.request_id for r in events} == {"r-2"}  # type: ignore[attr-defined]
    assert [r.action for r in events if r.actor == "clerk_c"] == ["case_started"]  # type: ignore[attr-defined]
    assert {r.actor for r in events} <= {"clerk_c", "system"}  # type: ignore[attr-defined]
    assert len({r.target for r in events}) == 1 and str(events[0].target).startswith("SJ")  # type: ignore[attr-defined]
    formatter = logs.JsonFormatter()
    for record in action_lines(caplog):
        line = formatter.format(record)
        for personal in ("赵六", "34052419800101001X", "13800138000", "3栋201室"):
            assert personal not in line


def test_the_json_formatter_writes_one_object_a_line() -> None:
    """The JSON formatter puts time, level, logger, message and the extra fields in one line of JSON."""
    record = logging.LogRecord("relief.request", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.request_id, record.status = "abc", 200
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "GET /x" and parsed["level"] == "INFO" and parsed["logger"] == "relief.request"
    assert parsed["request_id"] == "abc" and parsed["status"] == 200 and parsed["time"].endswith("+00:00")


def test_log_format_defaults_to_json_in_production() -> None:
    """RELIEF_LOG_FORMAT: json by default when RELIEF_ENV=production, text otherwise; other values are refused."""
    assert Settings.from_mapping({"ENV": "production"}).log_format == "json"
    assert Settings.from_mapping({}).log_format == "text"
    assert Settings.from_mapping({"ENV": "production", "LOG_FORMAT": "text"}).log_format == "text"
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        Settings.from_mapping({"LOG_FORMAT": "xml"})


def test_outside_tests_the_app_writes_json_lines(demo_db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An app that is not under test configures the root logger: with LOG_FORMAT=json a request is a JSON line."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        app = make_app(demo_db, tmp_path, TESTING=False, LOG_FORMAT="json")
        app.test_client().get("/healthz", headers={"X-Request-ID": "json-1"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        for handler in root.handlers[:]:
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])
    [line] = [line for line in lines if line.get("logger") == "relief.request"]
    assert line["request_id"] == "json-1" and line["endpoint"] == "ops.healthz" and line["status"] == 200
