"""The public portal on a phone (390 × 844): no page scrolls sideways, the header keeps whole words, a skip
link is the first stop and leads to the main content, focus is visible, every form control is labelled."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from playwright.sync_api import Page, expect

from engine.cases.runtime import CaseEngine
from engine.settings import PROJECT_ROOT
from tests.support.browser import PHONE_VIEWPORT, LiveServer, Step, apply_online, set_field, visit

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
COMPLAINT_BPMN = PROJECT_ROOT / "processes" / "complaint.bpmn"
COMPLAINT = {"complaint_type": "attitude", "about_org": "T01V02", "text": "窗口人员态度生硬，材料一次没有说清",
             "name": "王五", "phone": "13700137000"}
LONG_ADDRESS = ("示范县青阳镇青阳大道南延段与新河路交叉口东北角青阳镇为民服务中心综合楼二楼东侧社会救助综合受理窗口"
                "（乘3路公交至青阳镇政府站下车向东步行约200米）")


def query(page: Page, case_no: str, query_code: str) -> None:
    """Look a case up on the progress query form."""
    visit(page, "/portal/query")
    set_field(page, "case_no", case_no)
    set_field(page, "query_code", query_code)
    page.get_by_role("button", name="查询").click()


def query_with_a_wrong_code(page: Page) -> None:
    """The refusal a wrong case number or query code gets."""
    query(page, "SJ209901010001", "AAAAAAAA")
    expect(page.get_by_role("alert")).to_contain_text("案件编号或查询码不正确")


def query_an_online_case(page: Page) -> None:
    """The progress of a case just applied for online."""
    query(page, *apply_online(page))
    expect(page.locator("#case-status")).to_be_visible()


def _awaiting_supplement(page: Page) -> None:
    """An online case whose triage asked for a supplement (done through the engine, as the center would)."""
    case_no, code = apply_online(page)
    engine = CaseEngine.for_url(os.environ["RELIEF_DATABASE_URL"])
    [task] = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(task["id"], "center1", {
        "decision": "eligible", "departments": ["minzheng"],
        "material_review": [{"material": "最低生活保障申请书", "verdict": "supplement", "problem": "申请书未签字"}]})
    query(page, case_no, code)
    expect(page.locator("#supplement-items")).to_contain_text("申请书未签字")


def upload_a_supplement(page: Page) -> None:
    """The applicant uploads the supplement on the progress page (补正)."""
    _awaiting_supplement(page)
    page.set_input_files("#supplement-form input[type=file]",
                         files=[{"name": "申请书.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="提交补正材料").click()
    expect(page.locator("#supplement-done")).to_be_visible()


def notice_with_objection_form(page: Page) -> None:
    """A 救助公示 entry and its objection form (an approved 低保 case, done through the engine)."""
    engine = CaseEngine.for_url(os.environ["RELIEF_DATABASE_URL"])
    case_no, _ = engine.start_case({"name": "王小明", "id_number": "34052419800101001X", "phone": "13800138000",
                                    "region": {"township": "T01", "village": "T01V01"}, "request": "申请低保",
                                    "matters": ["dibao"]}, "window", "village")
    for form_key, user, data in (("triage", "center1", {"decision": "eligible", "departments": ["minzheng"]}),
                                 ("dept_accept", "mz1", {"materials": ["身份证"], "location": "民政局窗口",
                                                         "field_work": "none"}),
                                 ("dept_result", "mz1", {"outcome": "approved", "content": "纳入低保", "amount": 650,
                                                         "household_size": 2})):
        [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == form_key]
        engine.complete_task(task["id"], user, data)
    visit(page, "/portal/notices")
    page.get_by_role("link", name="提出异议").first.click()
    expect(page.locator("#objection-form")).to_be_visible()


def see_the_process(page: Page) -> None:
    """救助流程 with the diagram drawn (the viewer marks the body when it has imported the XML)."""
    visit(page, "/portal/process")
    expect(page.locator("body")).to_have_attribute("data-viewer-ready", "1")
    expect(page.locator("#viewer-canvas .djs-element[data-element-id=triage]")).to_be_attached()


def _with_complaints() -> None:
    """The complaint process deployed on the live server's database (the demo deploys only the linkage flow)."""
    engine = CaseEngine.for_url(os.environ["RELIEF_DATABASE_URL"])
    engine.deploy(COMPLAINT_BPMN.read_bytes(), COMPLAINT_BPMN.name, "test")


def file_a_complaint(page: Page) -> tuple[str, str]:
    """A named complaint filed on the portal's form; its number and query code."""
    _with_complaints()
    visit(page, "/portal/complaints")
    for name, value in COMPLAINT.items():
        set_field(page, name, value)
    page.get_by_role("button", name="提交投诉").click()
    expect(page.locator("#complaint-no")).to_have_text(re.compile(r"^\s*TS\d{12}\s*$"))
    return page.locator("#complaint-no").inner_text().strip(), page.locator("#query-code").inner_text().strip()


def complaint_refused(page: Page) -> None:
    """The complaint form sent without a type or text: the errors beside the fields."""
    visit(page, "/portal/complaints")
    page.get_by_role("button", name="提交投诉").click()
    expect(page.locator("#err-complaint_type")).to_be_visible()


def look_up_a_complaint(page: Page) -> None:
    """The progress of a complaint just filed, by its number and query code."""
    complaint_no, code = file_a_complaint(page)
    visit(page, "/portal/complaints/query")
    set_field(page, "complaint_no", complaint_no)
    set_field(page, "query_code", code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#complaint-status")).to_have_text("办理中")


def send_a_suggestion(page: Page) -> None:
    """A suggestion written in the portal's comment book."""
    visit(page, "/portal/suggestions")
    set_field(page, "text", "希望周六也能办理")
    page.get_by_role("button", name="提交意见").click()
    expect(page.locator("#suggestion-received")).to_be_visible()


class PortalPage(NamedTuple):
    """A page of the portal: the path it is served at and how a visitor gets to it."""

    path: str
    reach: Callable[[Page], Any]


# Every page of the public portal. A new portal page gets a line here; test_every_portal_path_is_listed
# fails while a route of the portal blueprint has none.
PORTAL_PAGES = {
    "home": PortalPage("/portal/", lambda page: visit(page, "/portal/")),
    "guide": PortalPage("/portal/guide/<code>", lambda page: visit(page, "/portal/guide/tekun")),
    "process": PortalPage("/portal/process", see_the_process),
    "hall": PortalPage("/portal/hall", lambda page: visit(page, "/portal/hall")),
    "apply": PortalPage("/portal/apply", lambda page: visit(page, "/portal/apply")),
    "applied": PortalPage("/portal/apply", apply_online),
    "query": PortalPage("/portal/query", lambda page: visit(page, "/portal/query")),
    "query-wrong-code": PortalPage("/portal/query", query_with_a_wrong_code),
    "progress": PortalPage("/portal/query", query_an_online_case),
    "supplement-requested": PortalPage("/portal/query", _awaiting_supplement),
    "supplement-uploaded": PortalPage("/portal/supplement", upload_a_supplement),
    "rate": PortalPage("/portal/rate", lambda page: visit(page, "/portal/rate")),
    "notices": PortalPage("/portal/notices", lambda page: visit(page, "/portal/notices")),
    "notice": PortalPage("/portal/notices/<int:notice_id>", notice_with_objection_form),
    "complaint": PortalPage("/portal/complaints", lambda page: visit(page, "/portal/complaints")),
    "complaint-refused": PortalPage("/portal/complaints", complaint_refused),
    "complaint-filed": PortalPage("/portal/complaints", file_a_complaint),
    "complaint-query": PortalPage("/portal/complaints/query", lambda page: visit(page, "/portal/complaints/query")),
    "complaint-progress": PortalPage("/portal/complaints/query", look_up_a_complaint),
    "suggestions": PortalPage("/portal/suggestions", lambda page: visit(page, "/portal/suggestions")),
    "suggestion-sent": PortalPage("/portal/suggestions", send_a_suggestion),
}

# Per header link or button: its box, the height of its text, one line of that text, and the font size.
HEADER_ITEMS = """() => [...document.querySelectorAll('header a, header button')].filter(e => e.offsetParent).map(e => {
  const text = document.createRange();
  text.selectNodeContents(e);
  const lines = [...text.getClientRects()].map(r => r.height).filter(h => h > 0);
  return {text: e.textContent.trim(), width: e.getBoundingClientRect().width,
          height: text.getBoundingClientRect().height, line: Math.min(...lines),
          em: parseFloat(getComputedStyle(e).fontSize)};
})"""
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => ![...e.labels].some(l => l.textContent.trim()) && !e.getAttribute('aria-label'))
  .map(e => e.name)"""
FOCUS_OUTLINE = "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"


def assert_outlined(page: Page) -> None:
    """The focused element shows a clear outline (at least 2 px)."""
    style, width = page.evaluate(FOCUS_OUTLINE)
    assert style != "none" and float(width.removesuffix("px")) >= 2, f"focus outline: {style} {width}"


def test_every_portal_path_is_listed(live_server: LiveServer) -> None:
    """PORTAL_PAGES covers every route of the portal blueprint, so a new portal page cannot go untested."""
    routes = {rule.rule for rule in live_server.app.url_map.iter_rules() if rule.endpoint.startswith("portal.")}
    assert routes == {page.path for page in PORTAL_PAGES.values()}


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_portal_page_fits_a_phone(phone_page: Page, step: Step, name: str) -> None:
    """At 390 × 844 the page does not scroll sideways, no header link breaks a word over lines, every form control
    has a label, and the first Tab reaches a visible skip link that moves focus to the main content."""
    page = phone_page
    with step(page, f"open {name}"):
        PORTAL_PAGES[name].reach(page)
    with step(page, f"{name}: no sideways scrolling"):
        scroll_width, inner_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        # innerWidth too: a mobile browser zooms out to show a page wider than the screen.
        assert scroll_width <= PHONE_VIEWPORT["width"] and inner_width == PHONE_VIEWPORT["width"], \
            f"scrollWidth {scroll_width}, innerWidth {inner_width} at a {PHONE_VIEWPORT['width']} px screen"
    with step(page, f"{name}: header keeps whole words"):
        items = page.evaluate(HEADER_ITEMS)
        assert len(items) >= 4  # the brand, 网上申请, 进度查询, 工作人员登录 (and the language switch)
        for item in items:
            assert item["width"] >= 2 * item["em"] and item["height"] < 3 * item["line"], item
    with step(page, f"{name}: every form control has a label"):
        assert page.evaluate(UNLABELLED) == []
    with step(page, f"{name}: skip link"):
        skip = page.get_by_role("link", name="跳到主要内容")
        page.keyboard.press("Tab")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        assert_outlined(page)
        page.keyboard.press("Tab")
        expect(page.locator("header a").first).to_be_focused()
        assert_outlined(page)
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_role("main")).to_have_attribute("id", "main")
        expect(page.get_by_role("main")).to_be_focused()


def fits_the_phone(page: Page) -> None:
    """The page does not scroll sideways at the phone's width."""
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= PHONE_VIEWPORT["width"], f"scrollWidth {scroll_width}"


def test_the_hall_on_a_phone_shows_what_the_administrator_saved(page_for: Callable[[str], Page], phone_page: Page,
                                                                step: Step) -> None:
    """An administrator saves 青阳镇's window in the workbench (a refused phone first, the long address kept) and
    clears 新桥村's phone; on a phone 办事大厅 shows the address whole, the phone as a tel: link big enough to
    tap, 暂未公布 for the cleared phone only, and nothing scrolls sideways."""
    admin = page_for("admin1")
    with step(admin, "edit 青阳镇's window, a bad phone first"):
        admin.locator("nav.mainnav").get_by_role("link", name="机构窗口").click()
        admin.locator("#org-T02").get_by_role("link", name="编辑").click()
        admin.locator("#f-address").fill(LONG_ADDRESS)
        admin.locator("#f-phone").fill("0512-6OO0 2288")
        admin.get_by_role("button", name="保存", exact=True).click()
        expect(admin.locator("#err-phone")).to_contain_text("只能由数字、短横线（-）和空格组成")
        expect(admin.locator("#f-address")).to_have_value(LONG_ADDRESS)
        admin.locator("#f-phone").fill("0512-6000 2288")
        admin.get_by_role("button", name="保存", exact=True).click()
        expect(admin.get_by_role("status")).to_contain_text("已保存青阳镇的窗口信息")
        expect(admin.locator("#org-T02 .window-phone")).to_have_text("0512-6000 2288")
    with step(admin, "clear 新桥村's phone"):
        visit(admin, "/admin/orgs/T02V02/edit")
        admin.locator("#f-phone").fill("")
        admin.get_by_role("button", name="保存", exact=True).click()
        expect(admin.locator("#org-T02V02 .window-phone")).to_have_text("未填写")

    page = phone_page
    with step(page, "办事大厅 on a phone"):
        visit(page, "/portal/hall")
        township = page.locator("#org-T02 > dl.window-facts")
        expect(township.locator(".window-address")).to_have_text(LONG_ADDRESS)
        phone = township.locator(".window-phone a")
        expect(phone).to_have_text("0512-6000 2288")
        expect(phone).to_have_attribute("href", "tel:051260002288")
        expect(page.locator("#org-T02V02 .window-phone")).to_have_text("暂未公布")
        expect(page.locator("#org-T02V02 .window-address")).not_to_have_text("暂未公布")
        expect(page.locator("#details-pending")).to_have_count(0)
        fits_the_phone(page)
        box = phone.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE_VIEWPORT["width"] and box["height"] >= 24, box
