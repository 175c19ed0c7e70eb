"""The 12345 data interface (R-5.1.3): idempotent work orders, field errors, regions, state and 回单."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.cases.runtime import CaseEngine
from engine.models import Application, CaseEvent, HotlineOrder, Notification
from tests.support.db import principal, settings_for, tx

URL = "/api/v1/hotline/work-orders"
ORDER = {"order_no": "GD202611280001", "caller": "李四", "phone": "13900001111",
         "content": "家中失火，生活困难，请求帮助", "type": "求助", "region": "青阳镇河口村",
         "time": "2026-01-05T09:00:00+08:00"}



@pytest.fixture
def hotline(bearer: Any) -> dict[str, str]:
    """The 12345 account's Authorization header."""
    return bearer("hotline12345")


def counts(database_url: str) -> tuple[int, int, int]:
    """(applications, hotline orders, case_started events) in the database."""
    with tx(database_url) as session:
        return (session.scalar(select(func.count()).select_from(Application)) or 0,
                session.scalar(select(func.count()).select_from(HotlineOrder)) or 0,
                session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.type == "case_started"))
                or 0)


def application_of(database_url: str, case_no: str) -> Application:
    """The application row of a case."""
    with tx(database_url) as session:
        return session.scalars(select(Application).where(Application.case_no == case_no)).one()


def test_same_order_twice_is_one_case(client: Any, hotline: dict[str, str], demo_db: str) -> None:
    """The first push is 201 with a new case; the same order again is 200 with the same case number."""
    first = client.post(URL, json=ORDER, headers=hotline)
    second = client.post(URL, json=ORDER, headers=hotline)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["case_no"] == second.json["case_no"] and first.json["status"] == "received"
    assert first.headers["Location"].endswith(f"{URL}/{ORDER['order_no']}")
    assert counts(demo_db) == (1, 1, 1)


def test_repeat_with_a_different_body_changes_nothing_but_is_logged(client: Any, hotline: dict[str, str],
                                                                    demo_db: str) -> None:
    """A repeat whose content and type differ keeps the case as it was and logs which fields differed."""
    case_no = client.post(URL, json=ORDER, headers=hotline).json["case_no"]
    changed = client.post(URL, json={**ORDER, "content": "另一件事", "type": "投诉"}, headers=hotline)
    assert changed.status_code == 200 and changed.json["case_no"] == case_no
    assert application_of(demo_db, case_no).request == ORDER["content"]
    with tx(demo_db) as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.type == "hotline_order_repeated")).all()
        payload = session.get_one(HotlineOrder, ORDER["order_no"]).payload
    assert [e.data["changed_fields"] for e in events] == [["content", "type"]] and payload["type"] == "求助"
    assert counts(demo_db) == (1, 1, 1)


def test_concurrent_pushes_of_one_order_make_one_case(app: Flask, hotline: dict[str, str], demo_db: str) -> None:
    """Ten threads pushing the same new order at once: one 201, nine 200, all the same case, one case stored."""
    barrier, results = threading.Barrier(10), []

    def push() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(URL, json=ORDER, headers=hotline)
        results.append((response.status_code, (response.json or {}).get("case_no")))

    threads = [threading.Thread(target=push) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(status for status, _ in results) == [200] * 9 + [201], results
    assert len({case_no for _, case_no in results}) == 1
    assert counts(demo_db) == (1, 1, 1)


INVALID = [
    ({"order_no": None}, "order_no", "请填写工单编号"),
    ({"order_no": "GD 0001/x"}, "order_no", "字母、数字"),
    ({"phone": "8888"}, "phone", "联系电话格式不正确"),
    ({"phone": "1380013800"}, "phone", "手机号码格式不正确"),
    ({"region": "火星镇"}, "region", "未知的事发区划"),
    ({"region": {"township": "T09"}}, "region.township", "未知的乡镇(街道)"),
    ({"region": {"township": "T01", "village": "河口村"}}, "region.village", "不属于城东街道"),
    ({"region": {"village": "T01V01"}}, "region.township", "请填写乡镇(街道)"),
    ({"content": None}, "content", "请填写诉求内容"),
    ({"content": "   "}, "content", "请填写诉求内容"),
    ({"caller": None}, "caller", "请填写来电人"),
    ({"type": "表扬"}, "type", "咨询、求助、投诉、建议"),
    ({"time": "昨天上午"}, "time", "ISO 8601"),
    ({"time": "2999-01-01T00:00:00+08:00"}, "time", "不能晚于当前时间"),
    ({"id_number": "340524198001010010"}, "id_number", "校验位"),
    ({"content": 42}, "content", "应为文本"),
]


@pytest.mark.parametrize(("change", "field", "message"), INVALID, ids=[f"{c[1]}-{i}" for i, c in enumerate(INVALID)])
def test_invalid_orders_are_422_with_field_errors(client: Any, hotline: dict[str, str], demo_db: str,
                                                  change: dict[str, Any], field: str, message: str) -> None:
    """A bad field is named with a Chinese message, and no case is started."""
    order = {k: v for k, v in {**ORDER, **change}.items() if v is not None}
    response = client.post(URL, json=order, headers=hotline)
    assert response.status_code == 422 and response.json["error"] == "invalid"
    assert set(response.json["errors"]) == {field}, response.json
    assert message in response.json["errors"][field][0]
    assert counts(demo_db) == (0, 0, 0)


def test_every_missing_field_is_named(client: Any, hotline: dict[str, str]) -> None:
    """An empty object names all seven required fields; a non-object body is refused as a whole."""
    empty = client.post(URL, json={}, headers=hotline)
    assert set(empty.json["errors"]) == {"order_no", "caller", "phone", "content", "type", "region", "time"}
    listed = client.post(URL, json=[ORDER], headers=hotline)
    assert listed.status_code == 422 and set(listed.json["errors"]) == {"body"}


@pytest.mark.parametrize(("region", "township", "village"), [
    ("T02", "T02", None), ("青阳镇", "T02", None), ("T02V01", "T02", "T02V01"), ("青阳镇河口村", "T02", "T02V01"),
    ("东湖社区", "T01", "T01V01"), ({"township": "城东街道", "village": "西塘社区"}, "T01", "T01V02"),
    ({"township": "T01", "village": "T01V01"}, "T01", "T01V01"), ({"township": " 青阳镇 "}, "T02", None),
])
def test_region_by_code_or_name(client: Any, hotline: dict[str, str], demo_db: str, region: Any, township: str,
                                village: str | None) -> None:
    """The region may name a township or village by code or name; the case gets the codes."""
    response = client.post(URL, json={**ORDER, "region": region}, headers=hotline)
    assert response.status_code == 201, response.json
    row = application_of(demo_db, response.json["case_no"])
    assert (row.township, row.village, row.channel, row.level) == (township, village, "hotline", "county")


def test_caller_becomes_the_applicant_without_an_invented_id(client: Any, hotline: dict[str, str],
                                                              demo_db: str) -> None:
    """caller → name, phone → phone, content → request; the ID number stays empty unless 12345 sent one."""
    plain = client.post(URL, json={**ORDER, "address": "青阳镇河口村3组12号"}, headers=hotline).json
    with_id = client.post(URL, json={**ORDER, "order_no": "GD2", "id_number": "34052419800101001x"},
                          headers=hotline).json
    row = application_of(demo_db, plain["case_no"])
    assert (row.applicant_name, row.phone, row.request, row.id_number) == ("李四", "13900001111", ORDER["content"], "")
    assert row.address == "青阳镇河口村3组12号" and row.registered_by == "hotline12345"
    assert application_of(demo_db, with_id["case_no"]).id_number == "34052419800101001X"


def test_payload_keeps_the_order_but_not_the_callers_personal_data(client: Any, hotline: dict[str, str],
                                                                   demo_db: str) -> None:
    """Optional fields are kept in the payload; caller, phone, address and content live in the application only."""
    order = {**ORDER, "time": "2026-01-05 09:00", "source": "12345热线", "deadline": "2026-01-12",
             "address": "河口村3组"}
    client.post(URL, json=order, headers=hotline)
    with tx(demo_db) as session:
        payload = session.get_one(HotlineOrder, ORDER["order_no"]).payload
    assert payload == {"type": "求助", "region": "青阳镇河口村", "time": "2026-01-05T09:00:00+08:00",
                       "source": "12345热线", "deadline": "2026-01-12"}


def test_state_before_and_after_the_case_is_declined(client: Any, hotline: dict[str, str], engine: Any,
                                                     demo_db: str) -> None:
    """Received while triage waits; after 不予受理 the order is closed and carries the queued 回单 text."""
    case_no = client.post(URL, json=ORDER, headers=hotline).json["case_no"]
    before = client.get(f"{URL}/{ORDER['order_no']}", headers=hotline).json
    assert (before["status"], before["status_label"], before["closed"], before["result"]) == (
        "received", "已签收", False, None)
    [triage] = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(triage["id"], "center1", {"decision": "ineligible", "reason": "家庭收入高于当地低保标准"})
    after = client.get(f"{URL}/{ORDER['order_no']}", headers=hotline).json
    with tx(demo_db) as session:
        [notice] = session.scalars(select(Notification).where(Notification.case_no == case_no,
                                                              Notification.recipient == "hotline")).all()
    assert (after["status"], after["closed"], after["case_status"]) == ("closed", True, "closed_declined")
    assert after["result"] == notice.content and "家庭收入高于当地低保标准" in after["result"]
    assert after["updated_at"] > before["updated_at"] and after["case_no"] == case_no


def test_state_is_handling_once_triage_is_done(client: Any, hotline: dict[str, str], engine: Any) -> None:
    """After an eligible triage the order is 办理中 and has no 回单 yet."""
    case_no = client.post(URL, json=ORDER, headers=hotline).json["case_no"]
    [triage] = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(triage["id"], "center1", {"decision": "eligible", "departments": ["minzheng"]})
    state = client.get(f"{URL}/{ORDER['order_no']}", headers=hotline).json
    assert (state["status"], state["status_label"], state["closed"], state["result"]) == (
        "handling", "办理中", False, None)


def test_state_is_404_for_unknown_orders_and_other_roles(client: Any, hotline: dict[str, str], bearer: Any) -> None:
    """An unknown order is 404; a known one is 404 to the center and visible to an administrator."""
    client.post(URL, json=ORDER, headers=hotline)
    assert client.get(f"{URL}/GD-NOPE", headers=hotline).status_code == 404
    assert client.get(f"{URL}/{ORDER['order_no']}", headers=bearer("center1")).status_code == 404
    assert client.get(f"{URL}/{ORDER['order_no']}", headers=bearer("admin1")).json["order_no"] == ORDER["order_no"]


def test_staff_cannot_push_orders(client: Any, bearer: Any, login: Any, demo_db: str) -> None:
    """center1 by token and clerk_c by session get 403 and no case is started."""
    assert client.post(URL, json=ORDER, headers=bearer("center1")).status_code == 403
    refused = login("clerk_c").post(URL, json=ORDER)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert counts(demo_db) == (0, 0, 0)


def test_losing_the_race_to_the_unique_key_answers_the_winners_case(demo_db: str) -> None:
    """When another push of the same order commits between the look-up and the insert, the loser reports that case."""

    class RacedEngine(CaseEngine):
        """A real engine on which a competing push of the same order commits just before this one's insert."""

        raced, winner = False, ""

        def start_case(self, *args: Any, **kwargs: Any) -> tuple[str, int]:
            if not self.raced:
                self.raced = True
                winner = super().start_case(*args, **kwargs)
                self.winner = winner[0]
            return super().start_case(*args, **kwargs)

    engine = RacedEngine(settings_for(demo_db))
    state, created = engine.hotline.receive(principal(engine, "hotline12345"), dict(ORDER))
    assert created is False and state.case_no == engine.winner
    assert counts(demo_db) == (1, 1, 1)
