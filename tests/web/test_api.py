"""REST API v1: token and session sign-in, CSRF, what each role sees and is refused, tasks, cases, OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine import clock
from engine.access.accounts import create_token, revoke_tokens
from engine.models import Application
from tests.support.cases import APPLICANT
from tests.support.cases import start_at_village_window as start
from tests.support.db import principal, tx
from tests.support.web import DEMO_PASSWORD, make_app

API = "/api/v1"
ACCEPT = {"materials": ["身份证", "户口簿"], "location": "县民政局1号窗口", "field_work": "none"}
APPLICATION = {**APPLICANT, "channel": "window", "green_channel": False}
WORK_ORDER = {"order_no": "GD202611280001", "caller": "李四", "phone": "13900001111", "content": "家中失火，生活困难",
              "type": "求助", "region": "青阳镇河口村", "time": "2026-01-05T09:00:00+08:00"}
ERROR_KEYS = {"error", "message", "errors"}



def only_task(engine: Any, case_no: str) -> str:
    """The id of the case's single open task."""
    [task] = engine.queries.list_tasks(case_no=case_no)
    return str(task["id"])


@dataclass
class World:
    """One case dispatched to 民政, one waiting for triage, one from 12345."""

    dispatched: str
    accept_task: str
    fresh: str
    triage_task: str
    hotline_case: str
    order_no: str
    field_task: str  # 处理上报 of a case in 西塘社区 (T01V02), for the village's field staff


@pytest.fixture
def world(engine: Any) -> World:
    """The three cases of `World`, started and moved on through the engine."""
    dispatched = start(engine)
    triage = {"decision": "eligible", "departments": ["minzheng"]}
    engine.complete_task(only_task(engine, dispatched), "center1", triage)
    fresh = start(engine)
    state, _created = engine.hotline.receive(principal(engine, "hotline12345"), dict(WORK_ORDER))
    in_xitang = start(engine, region={"township": "T01", "village": "T01V02"})
    engine.complete_task(only_task(engine, in_xitang), "center1", triage)
    engine.complete_task(only_task(engine, in_xitang), "mz1", {**ACCEPT, "field_work": "village"})
    field = [t for t in engine.queries.list_tasks(case_no=in_xitang) if t["form_key"] == "field_report"]
    assert [t["candidate_groups"] for t in field] == [["T01V02"]]
    return World(dispatched, only_task(engine, dispatched), fresh, only_task(engine, fresh), state.case_no,
                 state.order_no, field[0]["id"])


# -- what each role sees and is refused ----------------------------------------------------


def task_ids(body: dict[str, Any]) -> set[str]:
    """The ids of a task page."""
    return {t["id"] for t in body["items"]}


def sees_all_open(body: dict[str, Any], w: World) -> bool:
    """The center sees the 民政 task, the waiting triage and the 12345 case's triage."""
    return {w.accept_task, w.triage_task, w.field_task} <= task_ids(body) and body["total"] == 4


def sees_only_minzheng(body: dict[str, Any], w: World) -> bool:
    """民政 sees its acceptance task and nothing of other groups."""
    return task_ids(body) == {w.accept_task} and body["items"][0]["candidate_groups"] == ["minzheng"]


def sees_nothing(body: dict[str, Any], w: World) -> bool:
    """An empty inbox."""
    return body["items"] == [] and body["total"] == 0


def sees_the_villages_field_task(body: dict[str, Any], w: World) -> bool:
    """A township's field staff see the 处理上报 of one of its villages (T01V02) and nothing else."""
    return task_ids(body) == {w.field_task}


def claimed_by_town1(body: dict[str, Any], w: World) -> bool:
    """The village's field task, claimed by the township's field officer."""
    return body["id"] == w.field_task and body["assignee"] == "town1"


def claimed_by_mz1(body: dict[str, Any], w: World) -> bool:
    """The claimed task, now held by mz1, in the CLI's task fields."""
    return body["id"] == w.accept_task and body["assignee"] == "mz1" and "overdue" in body


def names_missing_fields(body: dict[str, Any], w: World) -> bool:
    """Field errors for the acceptance form's required fields."""
    return {"materials", "location", "field_work"} <= set(body["errors"])


def registered(body: dict[str, Any], w: World) -> bool:
    """A new case number and instance id."""
    return body["case_no"].startswith("SJ") and body["case_no"] not in (w.dispatched, w.fresh)


def masked_case(body: dict[str, Any], w: World) -> bool:
    """The case with its history and a masked applicant."""
    applicant = body["applicant"]
    return (body["case_no"] == w.dispatched and applicant["name"] == "张*"
            and applicant["id_number"] == "340524********001X" and applicant["phone"] == "138****8000"
            and any(e["type"] == "case_started" for e in body["history"]))


def hotline_case(body: dict[str, Any], w: World) -> bool:
    """The 12345 case, naming its work order, caller masked, no ID number invented."""
    return (body["hotline_order_no"] == w.order_no and body["applicant"]["name"] == "李*"
            and body["applicant"]["id_number"] == "")


def received(body: dict[str, Any], w: World) -> bool:
    """A new work order's receipt."""
    return body["status"] == "received" and body["case_no"] != w.hotline_case


def order_state(body: dict[str, Any], w: World) -> bool:
    """The 12345 order's state."""
    return body["case_no"] == w.hotline_case and body["status"] == "received" and body["closed"] is False


NEW_ORDER = {**WORK_ORDER, "order_no": "GD202611280002"}
ROLE_TABLE: list[tuple[str, str, str, Any, int, Callable[[dict[str, Any], World], bool] | None]] = [
    ("center1", "GET", "/tasks", None, 200, sees_all_open),
    ("mz1", "GET", "/tasks", None, 200, sees_only_minzheng),
    ("yb1", "GET", "/tasks", None, 200, sees_nothing),
    ("joint1", "GET", "/tasks", None, 200, sees_nothing),
    ("clerk_v", "GET", "/tasks", None, 200, sees_nothing),
    ("designer1", "GET", "/tasks", None, 200, sees_nothing),
    ("analyst1", "GET", "/tasks", None, 200, sees_nothing),
    ("hotline12345", "GET", "/tasks", None, 403, None),
    # A township covers its villages: town1 (城东街道) sees and works 西塘社区's field task; 东湖社区 does not.
    ("town1", "GET", "/tasks", None, 200, sees_the_villages_field_task),
    ("town1", "POST", "/tasks/{field_task}/claim", {}, 200, claimed_by_town1),
    ("village1", "GET", "/tasks", None, 200, sees_nothing),
    ("village1", "POST", "/tasks/{field_task}/claim", {}, 404, None),
    ("mz1", "POST", "/tasks/{accept_task}/claim", {}, 200, claimed_by_mz1),
    ("mz1", "POST", "/tasks/{accept_task}/complete", {"data": {}}, 422, names_missing_fields),
    ("mz1", "POST", "/tasks/{triage_task}/complete", {"data": {"decision": "ineligible", "reason": "x"}}, 404, None),
    ("yb1", "POST", "/tasks/{accept_task}/complete", {"data": ACCEPT}, 404, None),
    ("yb1", "POST", "/tasks/{accept_task}/claim", {}, 404, None),
    ("center1", "POST", "/tasks/{accept_task}/claim", {}, 403, None),
    ("designer1", "POST", "/tasks/{accept_task}/complete", {"data": ACCEPT}, 404, None),
    ("analyst1", "POST", "/tasks/{accept_task}/claim", {}, 404, None),
    ("hotline12345", "POST", "/tasks/{accept_task}/complete", {"data": ACCEPT}, 403, None),
    ("clerk_v", "POST", "/applications", APPLICATION, 201, registered),
    ("clerk_c", "POST", "/applications", APPLICATION, 201, registered),
    ("center1", "POST", "/applications", APPLICATION, 403, None),
    ("village1", "POST", "/applications", APPLICATION, 403, None),
    ("mz1", "POST", "/applications", APPLICATION, 403, None),
    ("hotline12345", "POST", "/applications", APPLICATION, 403, None),
    ("center1", "GET", "/cases/{dispatched}", None, 200, masked_case),
    ("mz1", "GET", "/cases/{dispatched}", None, 200, masked_case),
    ("clerk_v", "GET", "/cases/{dispatched}", None, 200, masked_case),
    ("town1", "GET", "/cases/{dispatched}", None, 200, masked_case),
    ("analyst1", "GET", "/cases/{dispatched}", None, 200, masked_case),
    ("yb1", "GET", "/cases/{dispatched}", None, 404, None),
    ("joint1", "GET", "/cases/{dispatched}", None, 404, None),
    ("designer1", "GET", "/cases/{dispatched}", None, 404, None),
    ("hotline12345", "GET", "/cases/{dispatched}", None, 404, None),
    ("hotline12345", "GET", "/cases/{hotline_case}", None, 200, hotline_case),
    ("mz1", "GET", "/cases/{hotline_case}", None, 404, None),
    ("hotline12345", "POST", "/hotline/work-orders", NEW_ORDER, 201, received),
    ("center1", "POST", "/hotline/work-orders", NEW_ORDER, 403, None),
    ("admin1", "POST", "/hotline/work-orders", NEW_ORDER, 403, None),
    ("clerk_c", "POST", "/hotline/work-orders", NEW_ORDER, 403, None),
    ("hotline12345", "GET", "/hotline/work-orders/{order_no}", None, 200, order_state),
    ("admin1", "GET", "/hotline/work-orders/{order_no}", None, 200, order_state),
    ("center1", "GET", "/hotline/work-orders/{order_no}", None, 404, None),
    ("mz1", "GET", "/hotline/work-orders/{order_no}", None, 404, None),
]


@pytest.mark.parametrize(("user", "method", "path", "body", "status", "check"), ROLE_TABLE,
                         ids=[f"{r[0]}-{r[1]}-{r[2]}-{r[4]}" for r in ROLE_TABLE])
def test_role_endpoint_table(client: Any, bearer: Any, world: World, user: str, method: str, path: str, body: Any,
                             status: int, check: Any) -> None:
    """Each role gets what scoping allows and a JSON refusal (403/404) for the rest."""
    response = client.open(API + path.format(**asdict(world)), method=method, json=body, headers=bearer(user))
    assert response.status_code == status, response.json
    if status >= 400:
        assert set(response.json) == ERROR_KEYS and response.json["message"]
    if check is not None:
        assert check(response.json, world), response.json


# -- signing in ----------------------------------------------------------------------------


def test_bearer_token_valid_revoked_and_missing(client: Any, bearer: Any, demo_db: str) -> None:
    """A live token works; after revocation it is 401; no or a made-up token is 401 with WWW-Authenticate."""
    headers = bearer("center1")
    assert client.get(f"{API}/tasks", headers=headers).status_code == 200
    with tx(demo_db) as session:
        revoke_tokens(session, "center1", clock.now())
    revoked = client.get(f"{API}/tasks", headers=headers)
    assert revoked.status_code == 401 and revoked.json["error"] == "invalid_token"
    missing = client.get(f"{API}/tasks")
    assert missing.status_code == 401 and missing.json["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    made_up = client.get(f"{API}/tasks", headers={"Authorization": "Bearer rlf_not-a-real-token"})
    assert made_up.status_code == 401 and set(made_up.json) == ERROR_KEYS


def test_bad_token_is_refused_even_with_a_session(login: Any) -> None:
    """A wrong bearer token is 401 even when the browser session is signed in (no silent fallback)."""
    client = login("center1")
    assert client.get(f"{API}/tasks").status_code == 200
    assert client.get(f"{API}/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401


def csrf_client(demo_db: str, tmp_path: Path, username: str) -> tuple[Any, str]:
    """A client of an app with CSRF on, signed in as `username`, and the CSRF token of its pages."""
    app: Flask = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").data.decode())
    assert token
    client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)})
    page_token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").data.decode())
    assert page_token
    return client, page_token.group(1)


def test_session_posts_need_the_csrf_header(demo_db: str, tmp_path: Path) -> None:
    """Signed in by session cookie: GET needs no token; POST without or with a bad X-CSRFToken is 400."""
    client, token = csrf_client(demo_db, tmp_path, "clerk_v")
    assert client.get(f"{API}/tasks").status_code == 200
    refused = client.post(f"{API}/applications", json=APPLICATION)
    assert refused.status_code == 400 and refused.json["error"] == "csrf_failed"
    forged = client.post(f"{API}/applications", json=APPLICATION, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400
    accepted = client.post(f"{API}/applications", json=APPLICATION, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201, accepted.json


def test_bearer_posts_need_no_csrf_token(demo_db: str, tmp_path: Path) -> None:
    """With CSRF on, a bearer-token POST goes through without any CSRF token."""
    client = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    with tx(demo_db) as session:
        token = create_token(session, "clerk_c", clock.now())
    response = client.post(f"{API}/applications", json=APPLICATION, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json


# -- tasks ---------------------------------------------------------------------------------


def test_task_filters_and_pagination(client: Any, bearer: Any, engine: Any) -> None:
    """per_page and page split the list; case_no and green_channel filter it."""
    plain = [start(engine) for _ in range(3)]
    green = start(engine, green_channel=True)
    headers = bearer("center1")
    first = client.get(f"{API}/tasks?per_page=3", headers=headers).json
    second = client.get(f"{API}/tasks?per_page=3&page=2", headers=headers).json
    assert (first["total"], len(first["items"]), len(second["items"]), second["page"]) == (4, 3, 1, 2)
    assert first["items"][0]["case_no"] == green  # green channel first
    by_case = client.get(f"{API}/tasks?case_no={plain[1]}", headers=headers).json
    assert [t["case_no"] for t in by_case["items"]] == [plain[1]]
    only_green = client.get(f"{API}/tasks?green_channel=1", headers=headers).json
    assert [t["case_no"] for t in only_green["items"]] == [green]
    assert set(first["items"][0]) == {"id", "case_no", "name", "form_key", "candidate_groups", "assignee",
                                      "created_at", "due_at", "overdue"}
    # 下一页 by position: the cursor of page 1 gives page 2, the last page has none; a tampered one is 422.
    assert (first["total_capped"], second["next_cursor"]) == (False, None)
    after = client.get(f"{API}/tasks?per_page=3&after={first['next_cursor']}", headers=headers).json
    assert [t["id"] for t in after["items"]] == [t["id"] for t in second["items"]]
    tampered = client.get(f"{API}/tasks?per_page=3&after=x{first['next_cursor']}", headers=headers)
    assert tampered.status_code == 422 and "after" in tampered.json["errors"]


def test_bad_task_query_is_422_naming_each_parameter(client: Any, bearer: Any) -> None:
    """Unknown scope, sort, channel, a bad date, an out-of-range per_page and a bad flag are each named."""
    response = client.get(f"{API}/tasks?scope=all&sort=x&channel=fax&due_from=2026-13-01&per_page=500&overdue=yes",
                          headers=bearer("center1"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"scope", "sort", "channel", "due_from", "per_page", "overdue"}


def test_claim_release_complete_and_conflict(client: Any, bearer: Any, world: World, engine: Any) -> None:
    """mz1 claims (scope=mine lists it), releases, completes; the answer hides tasks mz1 may not see; again is 409."""
    headers, task = bearer("mz1"), world.accept_task
    assert client.post(f"{API}/tasks/{task}/claim", headers=headers).json["assignee"] == "mz1"
    assert task_ids(client.get(f"{API}/tasks?scope=mine", headers=headers).json) == {task}
    assert client.post(f"{API}/tasks/{task}/release", headers=headers).json["assignee"] is None
    assert client.get(f"{API}/tasks?scope=mine", headers=headers).json["total"] == 0
    done = client.post(f"{API}/tasks/{task}/complete", json={"data": {**ACCEPT, "field_work": "village"}},
                       headers=headers)
    assert done.status_code == 200 and done.json == {"open_tasks": []}
    [field_report] = engine.queries.list_tasks(case_no=world.dispatched)
    assert field_report["candidate_groups"] == ["T01V01"]  # the village's task exists, just not mz1's to see
    again = client.post(f"{API}/tasks/{task}/complete", json={"data": ACCEPT}, headers=headers)
    assert again.status_code == 409 and again.json["error"] == "conflict"


def test_center_completing_triage_gets_the_next_tasks(client: Any, bearer: Any, world: World) -> None:
    """Completing triage answers the new department tasks; a body without data is 422."""
    url = f"{API}/tasks/{world.triage_task}/complete"
    missing = client.post(url, json={"decision": "eligible"}, headers=bearer("center1"))
    assert missing.status_code == 422 and "data" in missing.json["errors"]
    done = client.post(url, json={"data": {"decision": "eligible", "departments": ["minzheng", "yibao"]}},
                       headers=bearer("center1"))
    assert done.status_code == 200
    assert [t["form_key"] for t in done.json["open_tasks"]] == ["joint_plan"]


def test_unknown_task_is_404(client: Any, bearer: Any) -> None:
    """Claiming a task that does not exist is a JSON 404."""
    response = client.post(f"{API}/tasks/00000000-0000-0000-0000-000000000000/claim", headers=bearer("center1"))
    assert response.status_code == 404 and response.json["error"] == "not_found"


# -- applications and cases ----------------------------------------------------------------


def test_application_field_errors(client: Any, bearer: Any, demo_db: str) -> None:
    """A bad application is 422 with a Chinese message per field and starts no case."""
    body = {"name": "", "id_number": "340524198001010010", "phone": "12345", "request": "",
            "region": {"township": "T09"}, "channel": "online", "green_channel": "yes"}
    response = client.post(f"{API}/applications", json=body, headers=bearer("clerk_v"))
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {"name", "id_number", "phone", "request", "region.township", "channel", "green_channel"}
    assert "校验位" in errors["id_number"][0] and "T09" in errors["region.township"][0]
    with tx(demo_db) as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_application_level_and_region_names(client: Any, bearer: Any, demo_db: str) -> None:
    """A village clerk registers at village level, a county clerk at county level; region names become codes."""
    body = {**APPLICATION, "region": {"township": "城东街道", "village": "东湖社区"}}
    village = client.post(f"{API}/applications", json=body, headers=bearer("clerk_v"))
    county = client.post(f"{API}/applications", json={**APPLICATION, "channel": "terminal"},
                         headers=bearer("clerk_c"))
    assert village.status_code == county.status_code == 201
    assert village.headers["Location"].endswith(f"/api/v1/cases/{village.json['case_no']}")
    with tx(demo_db) as session:
        rows = {a.case_no: a for a in session.scalars(select(Application))}
    first, second = rows[village.json["case_no"]], rows[county.json["case_no"]]
    assert (first.level, first.township, first.village, first.registered_org) == ("village", "T01", "T01V01", "T01V01")
    assert (second.level, second.channel, second.registered_by) == ("county", "terminal", "clerk_c")


def test_case_show_never_shows_raw_personal_data(client: Any, bearer: Any, world: World) -> None:
    """The case as center1 (who may unmask elsewhere) holds no raw name, ID number or phone."""
    response = client.get(f"{API}/cases/{world.dispatched}", headers=bearer("center1"))
    text = response.data.decode("unicode_escape")
    assert response.status_code == 200 and response.json["status"] == "open"
    for raw in (APPLICANT["id_number"], APPLICANT["phone"], APPLICANT["name"]):
        assert raw not in text


# -- the rest of the surface ---------------------------------------------------------------


def test_unknown_path_and_wrong_method_answer_json(client: Any, bearer: Any) -> None:
    """An unknown API path is a JSON 404; a known path with the wrong method a JSON 405 with Allow."""
    headers = bearer("center1")
    missing = client.get(f"{API}/no-such-thing", headers=headers)
    assert missing.status_code == 404 and set(missing.json) == ERROR_KEYS
    wrong = client.delete(f"{API}/tasks", headers=headers)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET" and wrong.json["error"] == "method_not_allowed"


def test_body_that_is_not_json_is_400(client: Any, bearer: Any) -> None:
    """A POST whose body is not JSON is a JSON 400; JSON that is not an object is 422."""
    headers = bearer("clerk_v")
    not_json = client.post(f"{API}/applications", data="name=张三", headers=headers)
    assert not_json.status_code == 400 and not_json.json["error"] == "bad_json"
    listed = client.post(f"{API}/applications", json=["张三"], headers=headers)
    assert listed.status_code == 422 and "body" in listed.json["errors"]


def test_rate_limit_answers_429_json(demo_db: str, tmp_path: Path) -> None:
    """Past the API rate limit a client gets a JSON 429."""
    client = make_app(demo_db, tmp_path, RATELIMIT_ENABLED=True, API_RATE_LIMIT="2 per minute").test_client()
    statuses = [client.get(f"{API}/tasks").status_code for _ in range(3)]
    limited = client.get(f"{API}/tasks")
    assert statuses == [401, 401, 429] and limited.json["error"] == "rate_limited"


def test_openapi_document_lists_every_route(app: Flask, client: Any) -> None:
    """openapi.json is public and describes every /api/v1 route and method with bearerAuth and responses."""
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.") and r.endpoint != "api.unknown"]
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API)), method.lower())
              for rule in rules for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert operation["summary"] and {"200", "201"} & set(operation["responses"]), path


def test_openapi_document_is_valid(client: Any) -> None:
    """openapi.json passes openapi-spec-validator (skipped where that dev package is not installed)."""
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get(f"{API}/openapi.json").json)


def test_openapi_case_status_is_the_status_vocabulary(client: Any) -> None:
    """Case.status and WorkOrderState.case_status list exactly the statuses of engine.status (error included)."""
    from engine.status import CASE_STATUSES

    schemas = client.get(f"{API}/openapi.json").json["components"]["schemas"]
    assert schemas["Case"]["properties"]["status"]["enum"] == list(CASE_STATUSES)
    assert schemas["WorkOrderState"]["properties"]["case_status"]["enum"] == list(CASE_STATUSES)
    assert "error" in CASE_STATUSES and "terminated" in CASE_STATUSES


def test_rate_limited_requests_start_no_thread(demo_db: str, tmp_path: Path, bearer: Any, monkeypatch: Any) -> None:
    """The API's rate limit counts every request; counting starts no timer thread (the limiter's own
    memory storage starts one whenever its last one has ended, i.e. on almost every request)."""
    import threading
    import time

    client = make_app(demo_db, tmp_path, RATELIMIT_ENABLED=True).test_client()
    headers = bearer("center1")
    started: list[Any] = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), original(self))[1])
    for _ in range(5):
        assert client.get(f"{API}/tasks", headers=headers).status_code == 200
        time.sleep(0.02)  # requests a moment apart, as clients send them
    assert started == []
