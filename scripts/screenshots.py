"""Take the README screenshots (docs/screenshots/*.png) with Debian's headless Chromium.

Starts the app on a scratch SQLite database (and a scratch instance directory) with the demo
county. The staff pages (1366×900): registers a case at the window, opens and completes its triage
task, lets the remaining steps run through the app's own engine (`app.extensions["relief_engine"]`),
and shows the closed case. The public portal on a phone (390×844, portal-*.png): the home page, a
service guide, the online application, its confirmation and the progress query. Run from the project root:
`.venv/bin/python scripts/screenshots.py [--out DIR] [--only staff|portal]`; it needs Debian's
Chromium at /usr/bin/chromium (Playwright's own browsers are not used) and the built BPMN bundles in
web/static/dist (`make setup`).
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, even where the editable install predates web/

from engine.cases.runtime import CaseEngine  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "Demo@2026"
WINDOW_APPLICATION = {"kind": "application", "name": "张三", "id_number": "34052419800101001X",
                      "phone": "13800138000", "township": "T01", "village": "T01V01",
                      "request": "因病致贫，申请医疗救助和临时救助", "green_channel": "1"}
PORTAL_APPLICATION = {"name": "赵六", "id_number": "320281195603150048", "phone": "13600136000",
                      "township": "T02", "village": "T02V02", "request": "家中老人重病，医疗费用负担重，申请医疗救助",
                      "consent": "1"}
# The service guide shown at phone size; the application is made from its apply link.
GUIDE_MATTER = "yiliao"
# A few more cases so the inbox looks like a working day (registered through the engine).
BACKGROUND_CASES = [
    ({"name": "李四", "id_number": "320281199003070026", "phone": "13900139000",
      "region": {"township": "T02", "village": "T02V01"}, "request": "房屋受损，申请住房救助"}, "hotline", False),
    ({"name": "王五", "id_number": "320281198505120017", "phone": "13700137000",
      "region": {"township": "T01", "village": "T01V02"}, "request": "失业后生活困难，申请临时救助"}, "online", False),
]
# How the steps after triage are completed (through the engine, by form key and department).
LATER_STEPS: dict[str, Any] = {
    "joint_plan": ("joint1", {"departments": ["minzheng", "yibao"], "plan": "民政局负责临时救助，医保局负责医疗救助"}),
    "dept_accept": {"minzheng": ("mz1", {"materials": ["身份证", "户口簿"], "location": "城东街道便民服务中心",
                                          "field_work": "township"}),
                    "yibao": ("yb1", {"materials": ["医疗费用发票"], "location": "县医保局服务大厅",
                                      "field_work": "none"})},
    "field_report": ("town1", {"result": "已入户核查，情况属实"}),
    "dept_result": {"minzheng": ("mz1", {"outcome": "approved", "content": "批准临时救助", "amount": 1200}),
                    "yibao": ("yb1", {"outcome": "approved", "content": "批准医疗救助", "amount": 3500.5})},
    "summary": ("center1", {"summary": "民政局批准临时救助1200元，医保局批准医疗救助3500.50元"}),
}


def make_app(directory: Path) -> Flask:
    """The app (CSRF on) on a scratch SQLite database in `directory`, migrated to the newest schema."""
    from engine import schema
    from web import create_app

    url = f"sqlite:///{directory / 'relief.db'}"
    schema.upgrade(url)
    # Config keys as the app reads them (the RELIEF_ prefix is only for the environment).
    return create_app({"DATABASE_URL": url, "INSTANCE_DIR": str(directory / "instance"),
                       "UPLOAD_DIR": str(directory / "uploads"), "SECRET_KEY": secrets.token_hex(16),
                       "RATELIMIT_ENABLED": False, "SCHEDULER": "off"})


def case_engine(app: Flask) -> CaseEngine:
    """The app's own case engine (usable outside a request: it then opens plain sessions)."""
    engine: CaseEngine = app.extensions["relief_engine"]
    return engine


def prepare_database(engine: CaseEngine) -> None:
    """The matter catalog as `relief init-db` seeds it, the demo county (applications are checked against its
    regions), the deployed process and a few cases."""
    engine.catalog.ensure_seeded()
    engine.accounts.load_demo_data()
    engine.deploy(BPMN.read_bytes(), BPMN.name, "screenshots")
    for applicant, channel, green in BACKGROUND_CASES:
        engine.start_case(applicant, channel, "county", green_channel=green)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve the app on a free local port until the block ends; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def signed_in(browser: Browser, base_url: str, username: str) -> Page:
    """A page of a fresh Chinese browser profile, signed in through the login form."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base_url}/")
    return page


def set_field(page: Page, name: str, value: str) -> None:
    """Fill a form field whatever its widget."""
    field = page.locator(f"[name='{name}']").first
    tag, kind = field.evaluate("e => [e.tagName.toLowerCase(), (e.type || '').toLowerCase()]")
    if tag == "select":
        field.select_option(value)
    elif kind in ("radio", "checkbox"):
        page.locator(f"input[name='{name}'][value='{value}']").check()
    else:
        field.fill(value)


def finish_through_engine(engine: CaseEngine, case_no: str) -> None:
    """Complete the steps after triage as their demo users would."""
    while tasks := engine.queries.list_tasks(case_no=case_no):
        task = tasks[0]
        step = LATER_STEPS[task["form_key"]]
        if isinstance(step, dict):  # per department: the task's candidate group names it
            step = next(step[group] for group in task["candidate_groups"] if group in step)
        user, data = step
        engine.complete_task(task["id"], user, data)


def take_screenshots(browser: Browser, base_url: str, engine: CaseEngine, out: Path) -> None:
    """Drive one case through the pages and save receipt, inbox, task and case screenshots."""
    clerk = signed_in(browser, base_url, "clerk_v")
    clerk.goto("/intake/new")
    for name, value in WINDOW_APPLICATION.items():
        set_field(clerk, name, value)
    for matter in ("linshi", "yiliao"):  # the triage's 材料审查 then lists these matters' materials
        clerk.locator(f"input[name=matters][value={matter}]").check()
    clerk.get_by_role("button", name="提交登记").click()
    expect(clerk.locator("#case-no")).to_have_text(re.compile(r"^\s*SJ\d{12}\s*$"))
    case_no = clerk.locator("#case-no").inner_text().strip()
    clerk.screenshot(path=out / "receipt.png")

    center = signed_in(browser, base_url, "center1")
    center.screenshot(path=out / "inbox.png")
    row = center.locator("table#tasks tr[data-task-id]").filter(has_text=case_no)
    row.get_by_role("link", name="一门受理·初步研判").click()
    form = center.locator("#task-form")
    set_field(center, "decision", "eligible")
    for department in ("minzheng", "yibao"):
        form.locator(f"input[name=departments][value={department}]").check()
    form.locator("#review-table tbody tr").first.locator("input[value='ok']").check()
    form.evaluate("f => f.closest('section').scrollIntoView()")  # the form, not the case summary above it
    center.screenshot(path=out / "task.png")
    with center.expect_navigation():
        form.get_by_role("button", name="提交办理").click()

    finish_through_engine(engine, case_no)
    center.goto(f"/cases/{case_no}")
    expect(center.locator("#case-status")).to_contain_text("办结")
    center.screenshot(path=out / "case.png")
    take_design_screenshots(browser, base_url, engine, out)


def take_design_screenshots(browser: Browser, base_url: str, engine: CaseEngine, out: Path) -> None:
    """The modeler with the triage task's properties, an instance on its diagram, and the heat view."""
    designer = signed_in(browser, base_url, "designer1")
    designer.goto("/design/relief_linkage/modeler")
    expect(designer.locator("body")).to_have_attribute("data-modeler-ready", "1")
    designer.evaluate("ReliefModeler.select('triage')")
    designer.locator("#btn-validate").click()
    expect(designer.locator("#designer-status")).to_have_class("success")
    designer.screenshot(path=out / "modeler.png")

    case_no, _ = engine.start_case(BACKGROUND_CASES[1][0], "window", "village", actor="clerk_v")
    tasks = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(tasks[0]["id"], "center1", {"decision": "eligible", "departments": ["minzheng", "yibao"]})
    engine.complete_task(engine.queries.list_tasks(case_no=case_no)[0]["id"], "joint1", LATER_STEPS["joint_plan"][1])
    [accept] = [t for t in engine.queries.list_tasks(case_no=case_no) if "minzheng" in t["candidate_groups"]]
    engine.complete_task(accept["id"], "mz1", {**LATER_STEPS["dept_accept"]["minzheng"][1], "field_work": "none"})
    admin = signed_in(browser, base_url, "admin1")
    admin.goto(f"/admin/instances/{case_no}")
    expect(admin.locator("body")).to_have_attribute("data-viewer-ready", "1")
    admin.screenshot(path=out / "instance.png")
    admin.goto("/admin/heat")
    expect(admin.locator("body")).to_have_attribute("data-viewer-ready", "1")
    admin.screenshot(path=out / "heat.png")


def take_portal_screenshots(browser: Browser, base_url: str, out: Path) -> None:
    """The public portal on a phone: the home page, a service guide, the application form (opened from the
    guide, its matter ticked), its confirmation, and the progress it then shows."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
    applicant = context.new_page()
    applicant.goto("/portal/")
    applicant.screenshot(path=out / "portal-home.png")
    applicant.goto(f"/portal/guide/{GUIDE_MATTER}")
    applicant.screenshot(path=out / "portal-guide.png")
    applicant.locator("#apply-link").click()
    expect(applicant.locator(f"input[name=matters][value={GUIDE_MATTER}]")).to_be_checked()
    for name, value in PORTAL_APPLICATION.items():
        set_field(applicant, name, value)
    applicant.evaluate("window.scrollTo(0, 0)")
    applicant.screenshot(path=out / "portal-apply.png")
    applicant.get_by_role("button", name="提交申请").click()
    expect(applicant.locator("#case-no")).to_have_text(re.compile(r"^\s*SJ\d{12}\s*$"))
    case_no = applicant.locator("#case-no").inner_text().strip()
    query_code = applicant.locator("#query-code").inner_text().strip()
    applicant.screenshot(path=out / "portal-applied.png")
    applicant.goto("/portal/query")
    set_field(applicant, "case_no", case_no)
    set_field(applicant, "query_code", query_code)
    applicant.get_by_role("button", name="查询").click()
    expect(applicant.locator("#case-status")).to_be_visible()
    applicant.screenshot(path=out / "portal-progress.png")
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", choices=["staff", "portal"],
                        help="only the staff pages (1366×900) or only the portal at phone size (390×844)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing (apt-get install chromium); Playwright's own browsers are not used")
    with tempfile.TemporaryDirectory(prefix="relief-screenshots-") as scratch:
        app = make_app(Path(scratch))
        engine = case_engine(app)
        prepare_database(engine)
        with serve(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            if args.only != "portal":
                take_screenshots(browser, base_url, engine, args.out)
            if args.only != "staff":
                take_portal_screenshots(browser, base_url, args.out)
            browser.close()
    print(f"screenshots in {args.out}: " + ", ".join(sorted(p.name for p in args.out.glob("*.png"))))


if __name__ == "__main__":
    main()
