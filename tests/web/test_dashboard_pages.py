"""The dashboard's pages (数据看板, R-6.4.1): the page and the hall display, each chart's JSON with its
click-through to the case list, the CSV with a BOM, and who may see it."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest

from engine.dashboard.service import CHART_NAMES
from tests.support.cases import closed_case, dispatch, start


@pytest.fixture
def county(engine: Any) -> dict[str, str]:
    """A closed case of 民政, one of 医保 dispatched in T02, one open in T01."""
    return {"closed": closed_case(engine, departments=("minzheng",), matters=("linshi",)),
            "yibao": _dispatched(engine), "open": start(engine, matters=["yiliao"])}


def _dispatched(engine: Any) -> str:
    case_no = start(engine, township="T02", village="T02V01", matters=["yiliao"])
    dispatch(engine, case_no, "yibao")
    return case_no


def test_every_chart_answers_json_with_links(login: Any, county: dict[str, str]) -> None:
    """Each chart's endpoint gives its table; the 民政 bar links to the case list narrowed to 民政."""
    center = login("center1")
    for name in CHART_NAMES:
        response = center.get(f"/dashboard/data/{name}?township=T01")
        assert response.status_code == 200, name
        body = response.get_json()
        assert body["filter"] == {"township": "T01"} and body["table"]["columns"], name
    departments = center.get("/dashboard/data/departments").get_json()["table"]
    [row] = [r for r in departments["rows"] if r["cells"][0] == "民政局"]
    assert row["cells"][1:3] == [1, 1]
    assert parse_qs(urlsplit(row["href"]).query) == {"department": ["minzheng"]}
    assert urlsplit(row["href"]).path == "/cases/"
    volume = center.get("/dashboard/data/volume?by=month&channel=window").get_json()["table"]
    [month] = volume["rows"]
    assert month["cells"][1] == 3
    done_link = month["links"][[c["key"] for c in volume["columns"]].index("completed")]
    assert parse_qs(urlsplit(done_link).query)["status"] == ["completed"]
    assert parse_qs(urlsplit(done_link).query)["channel"] == ["window"]
    assert center.get("/dashboard/data/nothing").status_code == 404


def test_csv_download_has_a_bom(login: Any, county: dict[str, str]) -> None:
    """The CSV of a chart is UTF-8 with a BOM, its header the table's columns."""
    response = login("center1").get("/dashboard/csv/regions")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["乡镇（街道）", "村（社区）", "案件数", "已结束"]
    assert sum(int(r[2]) for r in rows[1:]) == 3


def test_a_department_sees_only_its_cases(login: Any, county: dict[str, str]) -> None:
    """医保 counts the case dispatched to it, not the county's others."""
    summary = login("yb1").get("/dashboard/data/summary").get_json()["table"]
    assert summary["rows"][0]["cells"][1] == 1
    regions = login("yb1").get("/dashboard/data/regions").get_json()["table"]
    assert [r["cells"][2] for r in regions["rows"]] == [1]
    assert login("town1").get("/dashboard/data/summary").get_json()["table"]["rows"][0]["cells"][1] == 2


def test_who_may_open_the_dashboard(login: Any, client: Any) -> None:
    """Center, analysts, departments, field staff and clerks; not designers, not anonymous visitors."""
    for user in ("center1", "analyst1", "mz1", "town1", "village1", "clerk_v", "admin1"):
        assert login(user).get("/dashboard/").status_code == 200, user
    assert login("designer1").get("/dashboard/").status_code == 403
    assert login("designer1").get("/dashboard/data/summary").status_code == 403
    assert login("designer1").get("/dashboard/csv/summary").status_code == 403
    assert client.get("/dashboard/data/summary").status_code in (302, 401)


def test_the_page_and_the_hall_display(login: Any) -> None:
    """The page has a card per chart fed by its endpoint with the filter; the hall has no navigation and
    reloads itself; neither has inline script or style."""
    center = login("center1")
    page = center.get("/dashboard/?township=T01&by=week")
    tree = lxml.html.fromstring(page.data.decode())
    cards = tree.xpath('//section[@data-chart]')
    assert [c.get("data-chart") for c in cards] == list(CHART_NAMES)
    assert all("township=T01" in c.get("data-src") for c in cards)
    assert tree.xpath('//script[@src]') and not tree.xpath('//script[not(@src)]') and not tree.xpath('//*[@style]')
    for url in ("/dashboard/hall?refresh=2", "/dashboard/?hall=1&refresh=2"):
        hall = lxml.html.fromstring(center.get(url).data.decode())
        assert not hall.xpath('//nav') and hall.xpath('//button[@id="fullscreen"]'), url
        assert hall.xpath('//*[@id="dashboard-charts"]/@data-refresh-minutes') == ["2"], url
        assert not hall.xpath('//*[@style]') and not hall.xpath('//script[not(@src)]')
