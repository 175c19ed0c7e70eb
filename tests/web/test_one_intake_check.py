"""One intake check for every channel (R-5.1): the window form, the portal, REST, 12345 and the CLI refuse
the same input with the same words, and none of them creates anything."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.models import Application, HumanTask, ProcessInstance
from tests.support.cases import APPLICANT
from tests.support.cli import relief
from tests.support.db import tx

FORM = {"kind": "application", "name": "王五", "id_number": APPLICANT["id_number"], "phone": "13800138000",
        "request": "申请临时救助", "consent": "1"}
ORDER = {"order_no": "GD202612010001", "caller": "王五", "phone": "13800138000", "content": "申请临时救助",
         "type": "求助", "time": "2026-01-05T09:00:00+08:00"}
# (region as each channel sends it, the message every channel must give)
REFUSED = [
    ({"township": "NOWHERE", "village": None}, "未知的乡镇(街道)：NOWHERE"),
    ({"township": "T01", "village": "T02V01"}, "青阳镇河口村不属于城东街道"),
    ({"township": "T01", "village": "NOWHERE"}, "未知的村(社区)：NOWHERE"),
]


def window(env: dict[str, Any], region: dict[str, Any], **person: str) -> str:
    """The window form of the county clerk."""
    response = env["login"]("clerk_c").post("/intake/new", data={
        **FORM, **person, "township": region["township"], "village": region["village"] or ""})
    assert response.status_code == 422
    return html.unescape(response.data.decode())


def portal(env: dict[str, Any], region: dict[str, Any], **person: str) -> str:
    """The online application."""
    response = env["client"].post("/portal/apply", data={
        **FORM, **person, "township": region["township"], "village": region["village"] or ""})
    assert response.status_code == 422
    return html.unescape(response.data.decode())


def rest(env: dict[str, Any], region: dict[str, Any], **person: str) -> str:
    """POST /api/v1/applications by a window clerk."""
    body = {**APPLICANT, **person, "region": region}
    response = env["client"].post("/api/v1/applications", json=body, headers=env["bearer"]("clerk_c"))
    assert response.status_code == 422
    return json.dumps(response.json["errors"], ensure_ascii=False)


def hotline(env: dict[str, Any], region: dict[str, Any], **person: str) -> str:
    """A 12345 work order (its caller is the applicant's name)."""
    renamed = {"caller" if k == "name" else k: v for k, v in person.items()}
    body = {**ORDER, **renamed, "region": {k: v for k, v in region.items() if v}}
    response = env["client"].post("/api/v1/hotline/work-orders", json=body, headers=env["bearer"]("hotline12345"))
    assert response.status_code == 422
    return json.dumps(response.json["errors"], ensure_ascii=False)


def cli(env: dict[str, Any], region: dict[str, Any], **person: str) -> str:
    """`relief case start`."""
    path = env["tmp_path"] / "applicant.json"
    path.write_text(json.dumps({**APPLICANT, **person, "region": region}, ensure_ascii=False), encoding="utf-8")
    result = relief("case", "start", "--channel", "window", "--level", "county", "--applicant", str(path),
                    database_url=env["db"], expect=1)
    return json.dumps(result["errors"], ensure_ascii=False)


CHANNELS: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "window": window, "portal": portal, "rest": rest, "12345": hotline, "cli": cli}


@pytest.mark.parametrize(("region", "message"), REFUSED, ids=["unknown-township", "village-elsewhere",
                                                            "unknown-village"])
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_channel_refuses_a_bad_region_alike(channel: str, region: dict[str, Any], message: str,
                                                  client: Any, login: Any, bearer: Any, demo_db: str,
                                                  tmp_path: Path) -> None:
    """The region check runs inside start_case for every channel: the same message, nothing stored."""
    env = {"client": client, "login": login, "bearer": bearer, "db": demo_db, "tmp_path": tmp_path}
    assert message in CHANNELS[channel](env, region)
    with tx(demo_db) as session:
        stored = [session.scalar(select(func.count()).select_from(t)) for t in (Application, ProcessInstance,
                                                                                HumanTask)]
    assert stored == [0, 0, 0]


PEOPLE = [
    ({"name": "王" * 101}, "不能超过 100 个字"),
    ({"phone": "8888"}, "联系电话格式不正确"),
]


@pytest.mark.parametrize(("person", "message"), PEOPLE, ids=["name-too-long", "bad-phone"])
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_channel_refuses_a_bad_applicant_alike(channel: str, person: dict[str, str], message: str,
                                                     client: Any, login: Any, bearer: Any, demo_db: str,
                                                     tmp_path: Path) -> None:
    """The same length limit and phone check in every channel, with the same words."""
    env = {"client": client, "login": login, "bearer": bearer, "db": demo_db, "tmp_path": tmp_path}
    assert message in CHANNELS[channel](env, {"township": "T01", "village": "T01V01"}, **person)
    with tx(demo_db) as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0
