"""The portal's public pages (R-6.2.1) without sign-in: the home page with 救助类别 and 救助项目, each matter's
服务指南, 救助流程 on the deployed diagram, 办事大厅; none shows a person's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient

from engine.access.orgs import upsert_organisation
from engine.bpmn.definitions import latest_definition
from engine.catalog.service import stored
from tests.support.bpmn import SHIPPED, edit
from tests.support.cases import APPLICANT
from tests.support.db import tx
from tests.support.web import make_app

PAGES = ("/portal/", "/portal/guide/dibao", "/portal/process", "/portal/hall")
USER_TASKS = ("一门受理·初步研判", "补正超期处理", "联动救助方案", "联席会议研究处理", "受理告知",
              "补正超期处理（部门）",
              "处理上报", "办结反馈", "督办", "办结汇总")


def doc(client: FlaskClient, path: str, status: int = 200) -> Any:
    """The parsed page at `path`, insisting on its status."""
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return lxml.html.fromstring(response.data.decode())


def texts(page: Any, xpath: str) -> list[str]:
    """The stripped text of every element `xpath` finds."""
    return [" ".join(e.text_content().split()) for e in page.xpath(xpath)]


def save(engine: Any, code: str, **changes: Any) -> None:
    """Change a matter through the catalog service, as an administrator would."""
    matter = engine.catalog.get(code)
    engine.catalog.save("admin1", {**stored(matter), **changes}, "测试修改", matter["revision"])


def test_home_lists_the_matters_by_type_with_their_guides(client: FlaskClient) -> None:
    """Every assistance type with its matters in the catalog's order, each linking to its guide; the services
    are linked, 投诉反馈 and 意见簿 among them."""
    page = doc(client, "/portal/")
    assert texts(page, '//section[@id="type-linshi"]//li/a') == ["临时救助", "流浪乞讨人员救助"]
    assert texts(page, '//section[@id="type-dibao"]//li/a') == ["最低生活保障", "低收入人口认定（低保边缘）"]
    assert len(page.xpath('//section[@class="assistance-type"]')) == 9
    assert len(page.xpath('//ul[@class="matter-links"]/li')) == 16
    assert page.xpath('//li[@id="matter-yiliao"]/a/@href') == ["/portal/guide/yiliao"]
    assert "待县确认" in texts(page, '//li[@id="matter-tekun"]')[0]
    assert "待县确认" not in texts(page, '//li[@id="matter-dibao"]')[0]
    services = page.xpath('//ul[@id="services"]//a/@href')
    assert services == ["/portal/apply", "/portal/query", "/portal/rate", "/portal/notices", "/portal/hall",
                        "/portal/process", "/portal/policies", "/portal/about", "/portal/complaints",
                        "/portal/suggestions"]
    [complaints] = page.xpath('//*[@id="complaints"]')
    assert complaints.tag == "a" and "即将开通" not in complaints.text_content()


def test_a_disabled_matter_leaves_the_home_page_and_its_guide_is_gone(client: FlaskClient, engine: Any) -> None:
    """Disabling a matter in the catalog takes it off the home page and its guide answers 404, as does an
    unknown code; the other matters of its type stay."""
    assert doc(client, "/portal/").xpath('//li[@id="matter-linshi"]')
    doc(client, "/portal/guide/linshi")
    save(engine, "linshi", status="disabled")
    page = doc(client, "/portal/")
    assert not page.xpath('//li[@id="matter-linshi"]')
    assert texts(page, '//section[@id="type-linshi"]//li/a') == ["流浪乞讨人员救助"]
    doc(client, "/portal/guide/linshi", 404)
    doc(client, "/portal/guide/no_such_matter", 404)


def test_the_guide_shows_each_material_with_its_review_standard(client: FlaskClient, engine: Any) -> None:
    """A material's review form in plain words, its review points, common problems, wrong example and whether
    it is required; the time limit, the default place, the basis, and a printable checklist with a box each."""
    save(engine, "dibao", materials=[
        {"name": "身份证", "form": "original", "required": True, "points": "在有效期内，姓名与申请书一致",
         "problems": ["已过期", "复印不清"], "wrong_example": "只带了临时身份证的复印件", "field_work": "none"},
        {"name": "疾病证明", "form": "pledge", "required": False, "points": "", "problems": [], "wrong_example": "",
         "field_work": "village"}])
    page = doc(client, "/portal/guide/dibao")
    first, second = page.xpath('//li[@class="material"]')
    assert "身份证" in first.xpath("./h3")[0].text_content() and "必须提交" in first.xpath("./h3")[0].text_content()
    assert texts(first, './/dd[contains(@class, "form")]') == ["原件核验：请带上原件，由工作人员核对"]
    assert texts(first, './/dd[contains(@class, "points")]') == ["在有效期内，姓名与申请书一致"]
    assert texts(first, './/dd[@class="problems"]//li') == ["已过期", "复印不清"]
    assert texts(first, './/dd[contains(@class, "wrong")]') == ["只带了临时身份证的复印件"]
    assert "如有则提交" in second.text_content() and "签署书面承诺即可" in second.text_content()
    assert "村(社区)实地核查" in second.text_content() and not second.xpath('.//dd[contains(@class, "points")]')
    assert texts(page, '//dd[@id="due"]') == ["30 个工作日"]
    assert texts(page, '//dd[@id="place"]') == ["各级社会救助窗口均可受理"]
    assert "民发〔2021〕57号" in texts(page, '//section[@id="basis"]')[0]
    assert "家庭人均收入低于当地最低生活保障标准" in texts(page, '//section[@id="recipients"]')[0]
    assert not page.xpath('//*[@id="unconfirmed"]')
    checklist = page.xpath('//section[@id="checklist"]//li')
    assert [len(li.xpath('./span[@class="box"]')) for li in checklist] == [1, 1]
    assert page.xpath('//button[@id="print-checklist"]/@data-print') == [""]
    assert page.xpath('//a[@id="apply-link"]/@href') == ["/portal/apply?matter=dibao"]


def test_an_unconfirmed_matter_says_so_and_an_open_time_limit_is_undecided(client: FlaskClient,
                                                                           engine: Any) -> None:
    """A 待县确认 matter carries the note; a matter without time limit says 未定, one with a place shows it."""
    save(engine, "dibao_bianyuan", place="县民政局社会救助科")
    page = doc(client, "/portal/guide/dibao_bianyuan")
    assert "尚待县里确认" in texts(page, '//*[@id="unconfirmed"]')[0]
    assert texts(page, '//dd[@id="due"]') == ["未定"]
    assert texts(page, '//dd[@id="place"]') == ["县民政局社会救助科"]


def test_the_process_page_shows_the_newest_deployed_version_and_explains_its_user_tasks(
        client: FlaskClient, engine: Any, demo_db: str) -> None:
    """The viewer gets the newest version's XML exactly as deployed; each user task is listed in the diagram's
    order with its name, its documentation and its due working days."""
    page = doc(client, "/portal/process")
    assert texts(page, '//ol[@class="process-steps"]/li/h3') == list(USER_TASKS)
    triage = texts(page, '//li[@id="step-triage"]')[0]
    assert "县社会救助中心对汇总的救助申请进行初步分析研判" in triage and "办理时限：2 个工作日" in triage
    engine.deploy(edit(SHIPPED, "县社会救助中心对汇总的救助申请进行初步分析研判", "中心先看申请是否符合条件"),
                  "relief_linkage.bpmn", "designer1", "新的说明")
    page = doc(client, "/portal/process")
    with tx(demo_db) as session:
        newest = latest_definition(session, "relief_linkage")
        assert newest is not None and newest.version == 2
        deployed = newest.xml
    data = json.loads(page.xpath('//script[@id="viewer-data"]')[0].text)
    assert data["xml"] == deployed and "中心先看申请是否符合条件" in texts(page, '//li[@id="step-triage"]')[0]
    assert page.xpath("//main//script/@src") == ["/static/dist/viewer.js", "/static/viewer-page.js"]


def test_the_process_page_without_a_deployed_process_says_so(county_db: str, tmp_path: Path) -> None:
    """Before anything is deployed the page answers kindly, with no viewer."""
    page = doc(make_app(county_db, tmp_path).test_client(), "/portal/process")
    assert "尚未发布" in texts(page, '//*[@id="no-process"]')[0]
    assert not page.xpath('//*[@id="viewer-canvas"]') and not page.xpath("//main//script")


def test_the_hall_lists_the_windows_from_county_to_villages(client: FlaskClient, demo_db: str) -> None:
    """The center, then each township with its villages, by name (a village filed under no township apart);
    departments keep no window here."""
    with tx(demo_db) as session:
        upsert_organisation(session, "C01V01", "中心直属社区", "village", "center")
    page = doc(client, "/portal/hall")
    assert texts(page, '//section[@id="county-windows"]//li/h3') == ["示范县社会救助中心"]
    assert texts(page, '//section[@class="township"]/h3') == ["城东街道", "青阳镇", "其他村（社区）"]
    assert texts(page, '//section[@id="org-T02"]//li/h4') == ["青阳镇河口村", "青阳镇新桥村"]
    assert texts(page, '//section[@id="unplaced"]//li/h4') == ["中心直属社区"]
    assert "示范县民政局" not in page.text_content()


def window_facts(page: Any, code: str) -> dict[str, str]:
    """The address, hours and phone one window shows (its own, not its villages')."""
    facts = page.xpath(f'//*[@id="org-{code}"]/dl[@class="window-facts"]')[0]
    return {dd.get("class").removeprefix("window-"): " ".join(dd.text_content().split()) for dd in facts.xpath("dd")}


def test_the_hall_shows_each_windows_address_hours_and_phone(client: FlaskClient, engine: Any, demo_db: str) -> None:
    """Each window shows its address, opening hours and phone as a tel: link; a field not published says 暂未公布
    alone (the rest of that window stays); with details on record the page no longer says none are published."""
    admin = engine.accounts.principal_named("admin1")
    engine.accounts.set_window(admin, "T01V02", {"phone": "", "hours": "周一至周五 8:30-11:30\n周六 9:00-11:00"})
    with tx(demo_db) as session:
        upsert_organisation(session, "C01V01", "中心直属社区", "village", "center")
    page = doc(client, "/portal/hall")
    assert window_facts(page, "center") == {"address": "示范县人民路 88 号县政务服务中心一楼 社会救助综合窗口",
                                            "hours": "周一至周五 8:30-12:00，14:00-17:30（法定节假日除外）",
                                            "phone": "0512-60000000"}
    assert page.xpath('//*[@id="org-center"]//dd[@class="window-phone"]/a/@href') == ["tel:051260000000"]
    assert window_facts(page, "T02")["phone"] == "0512-60002200"  # the township's own window, above its villages
    west = window_facts(page, "T01V02")
    assert west["phone"] == "暂未公布" and west["address"].startswith("示范县城东街道西塘街")
    assert page.xpath('//*[@id="org-T01V02"]//dd[@class="window-hours"]')[0].text_content() == \
        "周一至周五 8:30-11:30\n周六 9:00-11:00"
    assert not page.xpath('//*[@id="org-T01V02"]//a[starts-with(@href, "tel:")]')
    assert window_facts(page, "C01V01") == {"address": "暂未公布", "hours": "暂未公布", "phone": "暂未公布"}
    assert not page.xpath('//*[@id="details-pending"]')


def test_the_hall_says_so_while_no_window_has_details(client: FlaskClient, demo_db: str) -> None:
    """With no address, hours or phone on record anywhere, the page says they are not published yet, and each
    field says 暂未公布."""
    from sqlalchemy import update

    from engine.tables import ORGS

    with tx(demo_db) as session:
        session.execute(update(ORGS).values(address="", hours="", phone=""))
    page = doc(client, "/portal/hall")
    assert "暂未在本平台公布" in texts(page, '//*[@id="details-pending"]')[0]
    assert set(texts(page, '//dl[@class="window-facts"]/dd')) == {"暂未公布"}
    assert not page.xpath('//a[starts-with(@href, "tel:")]')


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_without_sign_in_and_the_nav_reaches_it(client: FlaskClient, path: str) -> None:
    """Each new page is public; the signed-out header links to the home, 办事大厅 and 救助流程 and marks the page
    it is on."""
    page = doc(client, path)
    nav = page.xpath('//nav[@class="mainnav"]/a/@href')
    portal = {"/portal/", "/portal/apply", "/portal/query", "/portal/notices", "/portal/hall", "/portal/process"}
    assert portal <= set(nav)
    assert page.xpath('//a[@class="brand"]/@href') == ["/portal/"]
    current = page.xpath('//nav[@class="mainnav"]/a[@aria-current="page"]/@href')
    assert current == ([] if path.startswith("/portal/guide/") else [path])


def test_no_page_shows_personal_data(client: FlaskClient, engine: Any) -> None:
    """With a case on record, none of the portal's public pages shows its applicant's name, ID, phone or request."""
    engine.start_case(APPLICANT, "window", "village", actor="clerk_v", org="T01V01")
    for path in (*PAGES, "/portal/guide/linshi", "/portal/guide/yiliao"):
        response = client.get(path)
        html = response.data.decode()
        assert response.status_code == 200, path
        for secret in (APPLICANT["name"], APPLICANT["id_number"], APPLICANT["phone"], APPLICANT["request"], "clerk_v"):
            assert secret not in html, (path, secret)
