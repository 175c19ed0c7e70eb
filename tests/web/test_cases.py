"""Case pages: scoped and searchable list, one case's file with status and history, logged unmasking."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine.models import AuditLog
from tests.support.cases import complete_case, dispatch, open_task, start
from tests.support.db import tx

RAW_ID, RAW_PHONE = "34052419800101001X", "13800138000"


def listed(client: Any, query: str = "") -> set[str]:
    """Case numbers on the case list page."""
    return set(re.findall(r'data-case-no="([^"]+)"', client.get(f"/cases/{query}").data.decode()))


def unmask_rows(app: Flask) -> list[AuditLog]:
    """The audit log's unmask entries."""
    with tx(app.config["DATABASE_URL"]) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == "unmask").order_by(AuditLog.id)))


def test_department_lists_only_cases_dispatched_to_it(engine: Any, login: Any) -> None:
    """mz1 lists the case dispatched to 民政, not one dispatched to 医保 nor an untriaged one."""
    to_minzheng, to_yibao, untriaged = start(engine), start(engine), start(engine)
    dispatch(engine, to_minzheng, "minzheng")
    dispatch(engine, to_yibao, "yibao")
    assert listed(login("mz1")) == {to_minzheng}
    assert listed(login("center1")) == {to_minzheng, to_yibao, untriaged}


def test_field_staff_list_their_township_or_village(engine: Any, login: Any) -> None:
    """town1 sees the T01 cases (both villages); village1 only T01V01; neither sees T02."""
    v01, v02, t02 = start(engine, "T01", "T01V01"), start(engine, "T01", "T01V02"), start(engine, "T02", "T02V01")
    assert listed(login("town1")) == {v01, v02}
    assert listed(login("village1")) == {v01}
    assert t02 not in listed(login("town1"))


def test_case_list_masks_search_and_pages(engine: Any, login: Any) -> None:
    """The list shows masked names, searches case numbers and request text, and pages by 20."""
    numbers = [start(engine) for _ in range(21)]
    special = start(engine, request="房屋倒塌申请临时救助")
    client = login("center1")
    html = client.get("/cases/").data.decode()
    assert "共 22 件" in html and "第 1 / 2 页" in html and "张*" in html and "张三" not in html
    assert len(listed(client, "?page=2")) == 2
    assert listed(client, f"?q={numbers[3]}") == {numbers[3]}
    assert listed(client, "?q=房屋倒塌") == {special}


def test_case_page_shows_status_version_open_tasks_and_history(engine: Any, login: Any) -> None:
    """An open case shows 办理中, v1, its triage task linked and the history in order; masked data only."""
    case_no = start(engine)
    html = login("center1").get(f"/cases/{case_no}").data.decode()
    assert re.search(r'id="case-status">办理中<', html) and 'id="definition-version">v1<' in html
    assert f'href="/tasks/{open_task(engine, case_no, "triage")}"' in html
    history = html[html.index('<ol class="history">'):]
    assert history.index("登记受理") < history.index("生成待办")
    assert "340524********001X" in html and RAW_ID not in html and RAW_PHONE not in html


def test_case_page_shows_banjie_after_completion(engine: Any, login: Any) -> None:
    """After the last task the case page shows 办结, the department's result and 案件结束 last."""
    case_no = start(engine)
    complete_case(engine, case_no)
    html = login("center1").get(f"/cases/{case_no}").data.decode()
    assert re.search(r'id="case-status">办结<', html)
    assert "没有待办任务" in html and "批准救助" in html
    items = re.findall(r'<li data-event="([a-z_]+)"', html)
    assert items[0] == "case_started" and "case_closed" in items and items.count("task_completed") == 4


def test_declined_case_shows_buyushouli(engine: Any, login: Any) -> None:
    """A case refused at triage shows 不予受理."""
    case_no = start(engine)
    engine.complete_task(open_task(engine, case_no, "triage"), "center1",
                         {"decision": "ineligible", "reason": "收入超标"})
    assert re.search(r'id="case-status">不予受理<', login("center1").get(f"/cases/{case_no}").data.decode())


def test_case_page_404_out_of_scope_or_unknown(engine: Any, login: Any) -> None:
    """mz1 gets 404 for a case not dispatched to 民政 and for an unknown case number."""
    case_no = start(engine)
    client = login("mz1")
    assert client.get(f"/cases/{case_no}").status_code == 404
    assert client.get("/cases/SJ000000000000").status_code == 404
    dispatch(engine, case_no, "minzheng")
    assert client.get(f"/cases/{case_no}").status_code == 200


def test_unmask_shows_full_data_once_and_is_audited(app: Flask, engine: Any, login: Any) -> None:
    """center1 and admin1 unmask with a reason: full ID shown for that response, one audit row each."""
    case_no = start(engine, address="江苏省示范县城东街道东湖社区幸福路12号")
    for username in ("center1", "admin1"):
        client = login(username)
        page = client.get(f"/cases/{case_no}").data.decode()
        assert "查看完整信息" in page and RAW_ID not in page and "幸福路12号" not in page
        response = client.post(f"/cases/{case_no}/unmask", data={"reason": "电话回访核实身份"})
        html = response.data.decode()
        assert response.status_code == 200 and RAW_ID in html and RAW_PHONE in html and "幸福路12号" in html
        assert response.headers["Cache-Control"] == "no-store"
        assert RAW_ID not in client.get(f"/cases/{case_no}").data.decode()
    rows = unmask_rows(app)
    assert [(r.actor, r.target, r.details["reason"]) for r in rows] == [
        ("center1", case_no, "电话回访核实身份"), ("admin1", case_no, "电话回访核实身份")]


def test_unmask_refused_without_permission_or_reason(app: Flask, engine: Any, login: Any) -> None:
    """mz1 (no unmask permission) gets 403 and no button; a blank reason is refused; nothing is logged."""
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng")
    mz = login("mz1")
    assert "查看完整信息" not in mz.get(f"/cases/{case_no}").data.decode()
    refused = mz.post(f"/cases/{case_no}/unmask", data={"reason": "想看看"})
    assert refused.status_code == 403 and RAW_ID not in refused.data.decode()
    task_id = open_task(engine, case_no, "dept_accept")
    assert mz.post(f"/tasks/{task_id}/unmask", data={"reason": "想看看"}).status_code == 403
    blank = login("center1").post(f"/cases/{case_no}/unmask", data={"reason": "  "})
    assert blank.status_code == 422 and "请填写查看完整信息的原因" in blank.data.decode()
    assert RAW_ID not in blank.data.decode()
    assert unmask_rows(app) == []


def test_joint_plan_and_summary_texts_are_on_the_case_page(engine: Any, login: Any) -> None:
    """The joint plan's text and the 办结汇总 text are shown to everyone who may see the case."""
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng", "yibao")
    for department, user in (("minzheng", "mz1"), ("yibao", "yb1")):
        engine.complete_task(open_task(engine, case_no, "dept_accept", department), user,
                             {"materials": ["身份证"], "location": "窗口", "field_work": "none"})
    for department, user in (("minzheng", "mz1"), ("yibao", "yb1")):
        engine.complete_task(open_task(engine, case_no, "dept_result", department), user,
                             {"outcome": "approved", "content": "已救助"})
    engine.complete_task(open_task(engine, case_no, "summary"), "center1", {"summary": "两部门均已救助，案件办结"})
    for username in ("center1", "mz1", "clerk_c"):
        page = login(username).get(f"/cases/{case_no}").data.decode()
        assert "联动救助" in page and "两部门均已救助，案件办结" in page, username
        assert "联动方案" in page and "办结汇总" in page


def test_case_list_and_header_show_names_not_codes(engine: Any, login: Any) -> None:
    """The case list names the township and village; the header names the user's organisation."""
    start(engine, township="T01", village="T01V02")
    page = login("center1").get("/cases/").data.decode()
    assert "城东街道西塘社区" in page and "T01V02" not in page.split('<table class="list" id="cases">')[1]
    assert "县社会救助中心" in page.split("</header>")[0] and " · center<" not in page
