"""The outbox sender: SMS and 12345 回单 once each, retries with backoff, failures that block nothing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.models import Notification
from engine.notify import outbox
from engine.notify.gateways import (
    GatewayConfigError,
    GatewayError,
    HttpHotlineGateway,
    LogHotlineGateway,
    LogSmsGateway,
    configured_gateways,
    load_gateway,
)
from engine.notify.outbox import BACKOFF, LEASE, MAX_ATTEMPTS
from engine.settings import Settings
from tests.support.db import deliver, tx

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class RecordingGateway:
    """A thread-safe stand-in for an outside service: counts sends per notification, fails on cue."""

    def __init__(self, fail: Callable[[Mapping[str, Any]], GatewayError | None] = lambda _n: None):
        self.fail = fail
        self.sent: Counter[int] = Counter()
        self.calls: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, notification: Mapping[str, Any]) -> None:
        with self._lock:
            self.calls.append(dict(notification))
        error = self.fail(notification)
        if error is not None:
            raise error
        with self._lock:
            self.sent[notification["id"]] += 1


class BrokenGateway:
    """A plugged-in gateway with a bug: raises something that is not a GatewayError."""

    def send(self, notification: Mapping[str, Any]) -> None:
        raise RuntimeError("connection pool exhausted")


def add_notice(url: str, **values: Any) -> int:
    """Insert one outbox row (an SMS to an applicant unless told otherwise); return its id."""
    row = {"case_no": "C-TEST", "recipient": "applicant", "channel": "sms", "kind": "received",
           "content": "您的救助申请已受理登记", "details": {}, "status": "pending", "created_at": T0, **values}
    with tx(url) as session:
        notice = Notification(**row)
        session.add(notice)
        session.flush()
        return notice.id


def notice(url: str, notice_id: int) -> Notification:
    """The outbox row as stored now."""
    with tx(url) as session:
        return session.get_one(Notification, notice_id)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a log adapter wrote."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_sms_is_logged_once_with_the_applicants_phone_and_marked_sent(start_case: Any, clean_db: str,
                                                                       tmp_path: Path) -> None:
    """The 受理 SMS of a new case is written to the log adapter once and marked sent; a second run sends nothing."""
    with clock.frozen_at(T0):
        case = start_case()
    log = tmp_path / "sms.log"
    report = deliver(clean_db, T0, {"sms": LogSmsGateway(log)})
    [line] = read_log(log)
    assert (report["sent"], report["claimed"], report["failed"]) == (1, 1, 0)
    assert (line["case_no"], line["phone"], line["kind"]) == (case.case_no, "13800138000", "received")
    # every applicant SMS is headed by the case number (issue 12: anyone can follow their case online)
    assert line["content"].startswith(f"【社会救助 {case.case_no}】您的救助申请已受理登记")
    stored = notice(clean_db, line["id"])
    assert (stored.status, stored.sent_at, stored.attempts, stored.next_attempt_at) == ("sent", T0, 1, None)
    again = deliver(clean_db, T0 + timedelta(hours=1), {"sms": LogSmsGateway(log)})
    assert again["claimed"] == 0 and len(read_log(log)) == 1


def test_two_failures_then_success_follow_the_backoff(clean_db: str) -> None:
    """A gateway failing twice then working gives retrying (+1 min), retrying (+5 min), sent."""
    outcomes = [GatewayError("网关超时"), GatewayError("网关超时"), None]
    gateway = RecordingGateway(fail=lambda _n: outcomes.pop(0))
    notice_id = add_notice(clean_db)

    assert deliver(clean_db, T0, {"sms": gateway})["retrying"] == 1
    first = notice(clean_db, notice_id)
    assert (first.status, first.attempts, first.next_attempt_at, first.last_error) == (
        "retrying", 1, T0 + BACKOFF[0], "网关超时")
    assert deliver(clean_db, T0 + BACKOFF[0] - timedelta(seconds=1), {"sms": gateway})["claimed"] == 0

    second_try = T0 + BACKOFF[0]
    assert deliver(clean_db, second_try, {"sms": gateway})["retrying"] == 1
    second = notice(clean_db, notice_id)
    assert (second.status, second.attempts, second.next_attempt_at) == ("retrying", 2, second_try + BACKOFF[1])

    third_try = second_try + BACKOFF[1]
    assert deliver(clean_db, third_try, {"sms": gateway})["sent"] == 1
    sent = notice(clean_db, notice_id)
    assert (sent.status, sent.attempts, sent.sent_at, sent.next_attempt_at) == ("sent", 3, third_try, None)
    assert len(gateway.calls) == 3 and gateway.sent[notice_id] == 1


def test_permanent_failure_ends_failed_and_blocks_no_one(clean_db: str) -> None:
    """A row that always fails is failed after MAX_ATTEMPTS; the others of its batch are sent at once."""
    bad = add_notice(clean_db, case_no="C-BAD")
    good = [add_notice(clean_db, case_no=f"C-GOOD-{i}") for i in range(3)]
    gateway = RecordingGateway(fail=lambda n: GatewayError("短信网关拒绝服务") if n["case_no"] == "C-BAD" else None)

    first = deliver(clean_db, T0, {"sms": gateway})
    assert (first["sent"], first["retrying"], first["claimed"]) == (3, 1, 4)
    assert all(notice(clean_db, g).status == "sent" for g in good)
    moment = T0
    for wait in BACKOFF:
        moment += wait
        deliver(clean_db, moment, {"sms": gateway})
    failed = notice(clean_db, bad)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", MAX_ATTEMPTS, "短信网关拒绝服务")
    assert deliver(clean_db, moment + timedelta(days=1), {"sms": gateway})["claimed"] == 0
    assert gateway.sent == Counter({g: 1 for g in good})


def test_non_retryable_errors_and_missing_phones_fail_at_once(clean_db: str,
                                                             tmp_path: Path) -> None:
    """A refusal that cannot pass, or an applicant without a phone, fails on the first attempt."""
    refused = add_notice(clean_db, channel="hotline", recipient="hotline", kind="result", details={"order_no": "X"})
    no_phone = add_notice(clean_db, case_no="C-UNKNOWN")  # no application row, so no phone
    report = deliver(clean_db, T0, {
        "hotline": RecordingGateway(fail=lambda _n: GatewayError("工单不存在", retryable=False)),
        "sms": LogSmsGateway(tmp_path / "sms.log")})
    assert report["failed"] == 2
    hotline, sms = notice(clean_db, refused), notice(clean_db, no_phone)
    assert (hotline.status, hotline.attempts, hotline.last_error) == ("failed", 1, "工单不存在")
    assert (sms.status, sms.attempts, sms.last_error) == ("failed", 1, "申请人没有登记手机号码")
    assert read_log(tmp_path / "sms.log") == []


def test_a_buggy_plugged_in_gateway_is_retried(clean_db: str) -> None:
    """An exception other than GatewayError counts as a failed attempt that may pass, not a crash."""
    notice_id = add_notice(clean_db)
    assert deliver(clean_db, T0, {"sms": BrokenGateway()})["retrying"] == 1
    assert notice(clean_db, notice_id).last_error == "RuntimeError: connection pool exhausted"


def test_racing_senders_never_send_a_row_twice(clean_db: str) -> None:
    """Four sender threads started together over 40 rows send every row exactly once."""
    ids = [add_notice(clean_db, case_no=f"C-{i:03}") for i in range(40)]
    gateway = RecordingGateway()
    start = threading.Barrier(4)
    reports: list[dict[str, int]] = []

    def sender() -> None:
        start.wait()
        reports.append(deliver(clean_db, T0, {"sms": gateway}))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gateway.sent == Counter({i: 1 for i in ids})
    assert sum(r["claimed"] for r in reports) == 40 and sum(r["sent"] for r in reports) == 40


def test_a_sender_that_runs_while_another_is_sending_takes_only_what_is_left(clean_db: str) -> None:
    """While sender A is inside its first send, sender B (another thread) sends the rest; A sends none of them."""
    ids = [add_notice(clean_db, case_no=f"C-{i:03}") for i in range(5)]
    reports: dict[str, dict[str, int]] = {}

    def second_sender_first(notification: Mapping[str, Any]) -> None:
        if "B" not in reports:
            reports["B"] = {}
            # A holds no transaction while it sends, so B must be able to run to the end now.
            other = threading.Thread(target=lambda: reports.update(B=deliver(clean_db, T0, {"sms": gateway})))
            other.start()
            other.join()

    gateway = RecordingGateway(fail=lambda n: second_sender_first(n))
    reports["A"] = deliver(clean_db, T0, {"sms": gateway})
    assert gateway.sent == Counter({i: 1 for i in ids})
    assert (reports["A"]["claimed"], reports["B"]["claimed"]) == (1, 4)


def test_a_row_left_sending_by_a_dead_sender_is_recovered(clean_db: str) -> None:
    """A row still "sending" after its lease goes back to retrying and is sent; one within its lease is left alone."""
    stale = add_notice(clean_db, status="sending", next_attempt_at=T0 - timedelta(seconds=1))
    live = add_notice(clean_db, status="sending", next_attempt_at=T0 + LEASE / 2)
    gateway = RecordingGateway()
    report = deliver(clean_db, T0, {"sms": gateway})
    assert (report["recovered"], report["sent"]) == (1, 1)
    recovered = notice(clean_db, stale)
    assert (recovered.status, recovered.attempts, recovered.sent_at) == ("sent", 2, T0)
    assert notice(clean_db, live).status == "sending" and live not in gateway.sent


def test_claim_holds_a_lease_while_sending(clean_db: str) -> None:
    """During the send the row is "sending" with its lease end in next_attempt_at."""
    notice_id = add_notice(clean_db)
    seen: list[tuple[str, datetime | None]] = []

    def look(_n: Mapping[str, Any]) -> None:
        row = notice(clean_db, notice_id)
        seen.append((row.status, row.next_attempt_at))

    deliver(clean_db, T0, {"sms": RecordingGateway(fail=look)})
    [(status, lease_end)] = seen
    assert status == "sending" and lease_end is not None and T0 + LEASE <= lease_end < T0 + LEASE + timedelta(minutes=1)


def test_hotline_result_goes_through_the_hotline_adapter_with_its_order_number(
        case_engine: Any, applicant: dict[str, Any], clean_db: str, tmp_path: Path) -> None:
    """A 12345 case declined at triage sends its 回单 to the hotline adapter with the work order number."""
    with clock.frozen_at(T0):
        case_no, _ = case_engine.start_case(applicant, "hotline", "county", False, "hotline12345",
                                            hotline_order={"order_no": "GD202603020001", "payload": {}})
        [triage] = case_engine.queries.list_tasks(case_no=case_no)
        case_engine.complete_task(triage["id"], "center1", {"decision": "ineligible", "reason": "收入高于低保标准"})
    sms_log, hotline_log = tmp_path / "sms.log", tmp_path / "hotline.log"
    report = deliver(clean_db, T0, {"sms": LogSmsGateway(sms_log), "hotline": LogHotlineGateway(hotline_log)})
    [result] = read_log(hotline_log)
    assert (result["order_no"], result["case_no"], result["status"]) == ("GD202603020001", case_no, "closed_declined")
    assert "收入高于低保标准" in result["result"]
    assert {line["kind"] for line in read_log(sms_log)} == {"received", "refused"}
    assert report["sent"] == 3 and notice(clean_db, result["id"]).status == "sent"


def test_in_app_notices_are_delivered_by_storing_and_read_by_their_user(clean_db: str) -> None:
    """In-app rows need no gateway; unread count, newest-first pages and mark-read work per user."""
    ids = [add_notice(clean_db, channel="in_app", recipient="staff", username="mz1", kind="overdue",
                      content=f"通知 {i}", created_at=T0 + timedelta(minutes=i)) for i in range(5)]
    add_notice(clean_db, channel="in_app", recipient="staff", username="yb1", kind="overdue")
    gateway = RecordingGateway()
    report = deliver(clean_db, T0, {"sms": gateway, "hotline": gateway})
    assert (report["in_app"], report["claimed"], gateway.calls) == (6, 0, [])
    assert notice(clean_db, ids[0]).status == "delivered"
    with tx(clean_db) as session:
        conn = session.connection()
        assert outbox.unread_count(conn, "mz1") == 5
        found = outbox.list_for_user(conn, "mz1", page=1, per_page=2)
        assert (found.total, found.pages) == (5, 3) and [r["content"] for r in found.items] == ["通知 4", "通知 3"]
        assert outbox.mark_read(conn, "mz1", [ids[0], ids[1]], T0) == 2
        assert outbox.unread_count(conn, "mz1") == 3
        assert outbox.mark_read(conn, "mz1", "all", T0) == 3
        assert (outbox.unread_count(conn, "mz1"), outbox.unread_count(conn, "yb1")) == (0, 1)


def test_failed_deliveries_are_listed_and_can_be_retried(clean_db: str) -> None:
    """Failed and waiting rows are listed failed first; a retry puts a row back with its attempts reset."""
    failed = add_notice(clean_db, status="failed", attempts=MAX_ATTEMPTS, last_error="网关拒绝")
    waiting = add_notice(clean_db, status="retrying", attempts=2, next_attempt_at=T0 + BACKOFF[1])
    sent = add_notice(clean_db, status="sent", attempts=1)
    with tx(clean_db) as session:
        found = outbox.failed_deliveries(session.connection())
        assert found.total == 2 and [r["id"] for r in found.items] == [failed, waiting]
        assert outbox.retry_failed(session.connection(), failed, T0)
        assert not outbox.retry_failed(session.connection(), sent, T0)
    again = notice(clean_db, failed)
    assert (again.status, again.attempts, again.next_attempt_at) == ("retrying", 0, T0)
    gateway = RecordingGateway()
    assert deliver(clean_db, T0, {"sms": gateway})["sent"] == 1 and failed in gateway.sent


class _PushHandler(BaseHTTPRequestHandler):
    """The 12345 platform's push endpoint: answers with the status the test asked for."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.received.append((json.loads(body), self.headers["Idempotency-Key"]))
        self.send_response(server.answers.pop(0))
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def push_server() -> Iterator[Any]:
    """A local HTTP server on 127.0.0.1 standing in for the 12345 push endpoint."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _PushHandler)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_push_sends_json_and_retries_only_what_may_pass(push_server: Any, clean_db: str) -> None:
    """200 is sent, 503 is retried, 400 fails at once; each push carries the order number and an idempotency key."""
    push_server.answers = [200, 503, 400]
    ids = [add_notice(clean_db, channel="hotline", recipient="hotline", kind="result", content=f"回单 {i}",
                      details={"order_no": f"GD-{i}", "status": "closed_completed"}) for i in range(3)]
    url = f"http://127.0.0.1:{push_server.server_address[1]}/push"
    report = deliver(clean_db, T0, {"hotline": HttpHotlineGateway(url, timeout=5)})
    assert (report["sent"], report["retrying"], report["failed"]) == (1, 1, 1)
    assert [notice(clean_db, i).status for i in ids] == ["sent", "retrying", "failed"]
    body, key = push_server.received[0]
    assert body == {"id": ids[0], "order_no": "GD-0", "case_no": "C-TEST", "status": "closed_completed",
                    "result": "回单 0"}
    assert key == f"relief-notification-{ids[0]}"
    assert notice(clean_db, ids[1]).last_error == "12345 平台返回 HTTP 503"


def test_a_real_gateway_plugs_in_by_configuration(tmp_path: Path) -> None:
    """RELIEF_SMS_GATEWAY names the class to load; a bad name is a clear configuration error."""
    environ = {"RELIEF_SMS_GATEWAY": "tests.engine.test_outbox:RecordingGateway",
               "RELIEF_HOTLINE_LOG": str(tmp_path / "hotline.log")}
    gateways = configured_gateways(Settings.from_environ(environ))
    assert isinstance(gateways["sms"], RecordingGateway) and isinstance(gateways["hotline"], LogHotlineGateway)
    pushed = Settings.from_environ({**environ, "RELIEF_HOTLINE_PUSH_URL": "http://127.0.0.1:9/push"})
    assert isinstance(configured_gateways(pushed)["hotline"], HttpHotlineGateway)
    for spec in ("tests.engine.test_outbox", "tests.engine.test_outbox:NoSuchGateway", "no_such_module:Gateway"):
        with pytest.raises(GatewayConfigError):
            load_gateway(spec)


def test_unsent_channels_are_left_alone(clean_db: str) -> None:
    """Rows of a channel without a gateway in this run are neither claimed nor touched."""
    hotline = add_notice(clean_db, channel="hotline", recipient="hotline", details={"order_no": "GD-1"})
    report = deliver(clean_db, T0, {"sms": RecordingGateway()})
    stored = notice(clean_db, hotline)
    assert report["claimed"] == 0 and (stored.status, stored.attempts) == ("pending", 0)
    with tx(clean_db) as session:
        assert session.scalars(select(Notification.status)).all() == ["pending"]
