"""The process designer's pages and the instance monitor in a real browser: the bpmn-js modeler
(edit in the Camunda properties panel, 校验, 样例试运行, 部署为新版本), the round trip of the engine's
attributes through bpmn-js, the instance page's overlays and confirmed actions, and the heat view.

Edits are made the way a designer makes them: click the element on the canvas, open the group in
the properties panel and type into its field. The panel commits typed input after a short
debounce, so every edit waits until the diagram's business object holds the new value."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import Dialog, Locator, Page, expect
from sqlalchemy import func, select

from engine import clock
from engine.bpmn import definitions
from engine.bpmn.design import check_draft, load_samples
from engine.models import ProcessDefinition, ProcessInstance
from tests.support.bpmn import SHIPPED_SAMPLES, moved_shape
from tests.support.browser import LiveServer, Step, visit
from tests.support.cases import dispatch, task_row
from tests.support.cases import start_at_village_window as start
from tests.support.db import BPMN_PATH, engine_for, suite_settings, tx

pytestmark = pytest.mark.browser

KEY = "relief_linkage"
MODELER = f"/design/{KEY}/modeler"
TRIAGE_NAME = "一门受理·初步研判"
TRIAGE_DUE = 2
NEW_TRIAGE_NAME = "一门受理·初步研判（三日）"
NEW_TRIAGE_DUE = 3
ESCAPE = "().__class__.__bases__[0].__subclasses__()"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
CAMUNDA = f"{{{NS['camunda']}}}"
# The attributes and children the engine reads (loader, runtime, diff): a modeler must keep them all.
KEPT_ATTRIBUTES = (f"{CAMUNDA}formKey", f"{CAMUNDA}candidateGroups", "name", "sourceRef", "targetRef",
                   "attachedToRef", "cancelActivity", "default", "isSequential")
KEPT_TEXTS = ("conditionExpression", "script", "timerEventDefinition/bpmn:timeDate",
              "timerEventDefinition/bpmn:timeDuration", "timerEventDefinition/bpmn:timeCycle")
LOOP_CHILDREN = ("loopDataInputRef", "inputDataItem", "loopDataOutputRef", "outputDataItem")


# -- the app behind the live server ---------------------------------------------------------------


@pytest.fixture
def engine(live_server: LiveServer) -> Any:
    """A CaseEngine on the live server's database (its own sessions: the tests call it outside requests)."""
    return engine_for(live_server.app.config["DATABASE_URL"])


def deployed_versions(live_server: LiveServer) -> list[int]:
    """The deployed versions of the linkage process, oldest first."""
    with tx(live_server.app.config["DATABASE_URL"]) as session:
        return list(session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == KEY)
                                    .order_by(ProcessDefinition.version)))


def instance_count(live_server: LiveServer) -> int:
    """How many process instances (cases) exist."""
    with tx(live_server.app.config["DATABASE_URL"]) as session:
        return int(session.scalar(select(func.count()).select_from(ProcessInstance)) or 0)


def due_workdays_of(engine: Any, task: dict[str, Any]) -> int:
    """The working days a task was given: the n with add_workdays(created_at, n) == due_at."""
    created, due = (clock.aware(datetime.fromisoformat(task[k])) for k in ("created_at", "due_at"))
    matches = [n for n in range(0, 30) if engine.calendar.add_workdays(created, n) == due]
    assert matches, f"due_at {task['due_at']} is no whole number of working days after {task['created_at']}"
    return matches[0]


def accept_next_dialog(page: Page, seen: list[str], accept: bool = True) -> None:
    """Answer the next window.confirm (accept or dismiss), remembering its message."""
    def answer(dialog: Dialog) -> None:
        seen.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", answer)


# -- the modeler, driven as a designer drives it --------------------------------------------------


def open_modeler(page: Page, path: str = MODELER) -> None:
    """Open the modeler and wait until bpmn-js has imported the diagram without warnings."""
    visit(page, path)
    expect(page.locator("body[data-modeler-ready='1']")).to_have_count(1)
    status = page.locator("#designer-status")
    expect(status, "import warnings are shown as an error status").not_to_have_class(re.compile(r"\berror\b"))
    expect(status).to_have_text("")


def selected_ids(page: Page) -> list[str]:
    return list(page.evaluate("ReliefModeler.modeler.get('selection').get().map(e => e.id)"))


def click_on_canvas(page: Page, element_id: str) -> None:
    """Click the element where it is drawn (its hit area) and check the modeler selected it.

    A mouse click at the drawn position rather than Locator.click: Playwright does not count thin
    SVG groups such as sequence flows as visible, though they are perfectly clickable."""
    hit = page.locator(f'.djs-element[data-element-id="{element_id}"] > .djs-hit').first
    box = hit.bounding_box()
    assert box is not None, f"{element_id} is not drawn on the canvas"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("id => { const s = ReliefModeler.modeler.get('selection').get();"
                           " return s.length === 1 && s[0].id === id; }", arg=element_id)
    expect(page.locator(".bio-properties-panel-header-label")).to_be_visible()


def open_group(page: Page, group_id: str) -> Locator:
    """Expand a properties-panel group (clicking its header unless it is already open); return it."""
    group = page.locator(f'#modeler-properties .bio-properties-panel-group[data-group-id="{group_id}"]')
    body = group.locator(":scope > .bio-properties-panel-group-entries, :scope > .bio-properties-panel-list")
    if "open" not in (body.get_attribute("class") or "").split():
        group.locator(".bio-properties-panel-group-header").click()
    expect(body).to_have_class(re.compile(r"\bopen\b"))
    return group


def wait_for_model(page: Page, element_id: str, expression: str, expected: str) -> None:
    """Wait until `expression` of the element's business object `bo` equals `expected` (panel debounce)."""
    page.wait_for_function(
        f"([id, expected]) => {{ const e = ReliefModeler.modeler.get('elementRegistry').get(id);"
        f" if (!e) return false; const bo = e.businessObject; let v; try {{ v = ({expression}); }}"
        f" catch (err) {{ return false; }} return v === expected; }}", arg=[element_id, expected])


def extension_property(bo_expression: str, name: str) -> str:
    """JS for the value of camunda:Property `name` of a business object."""
    return (f"{bo_expression}.extensionElements.values.filter(x => x.$type === 'camunda:Properties')"
            f".flatMap(x => x.values || []).find(p => p.name === {json.dumps(name)}).value")


def set_extension_property(page: Page, element_id: str, name: str, value: str) -> None:
    """Open 'Extension properties', expand the entry called `name` and type its new value."""
    group = open_group(page, "group-CamundaPlatform__ExtensionProperties")
    entry = group.locator(".bio-properties-panel-collapsible-entry").filter(
        has=page.locator(".bio-properties-panel-collapsible-entry-header-title", has_text=re.compile(f"^{name}$")))
    expect(entry).to_have_count(1)
    entries = entry.locator(".bio-properties-panel-collapsible-entry-entries")
    if "open" not in (entries.get_attribute("class") or "").split():
        entry.locator(".bio-properties-panel-collapsible-entry-header").click()
    expect(entry.locator("input[name$='-name']")).to_have_value(name)
    entry.locator("input[name$='-value']").fill(value)
    wait_for_model(page, element_id, extension_property("bo", name), value)


def status_is(page: Page, kind: str) -> Locator:
    """Wait for the modeler's status line to settle on `kind` (success or error); return it."""
    status = page.locator("#designer-status")
    expect(status).to_have_class(re.compile(rf"\b{kind}\b"))
    return status


def deploy_from_modeler(page: Page, comment: str) -> list[str]:
    """Type the deploy comment, click 部署为新版本 and accept the confirmation; return its message."""
    page.locator("#deploy-comment").fill(comment)
    seen: list[str] = []
    accept_next_dialog(page, seen)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/design/{KEY}/deploy")):
        page.locator("#btn-deploy").click()
    return seen


# -- the tests ------------------------------------------------------------------------------------


def test_modeler_loads_edits_and_deploys_next_version(page_for: Callable[[str], Page], live_server: LiveServer,
                                                      engine: Any, step: Step) -> None:
    """Proof: the modeler opens the deployed version without import warnings; a designer renames 一门受理
    and changes its dueWorkdays in the properties panel, 校验 passes, 部署 (confirmed, with a comment)
    makes version N+1; the case started before stays on N, a new case runs N+1 with the new name and due."""
    before = deployed_versions(live_server)
    latest = before[-1]
    old_case = start(engine)
    page = page_for("designer1")

    with step(page, "open the modeler"):
        open_modeler(page)
        expect(page.locator("#designer h1")).to_contain_text(f"v{latest}")

    with step(page, "rename triage and change its dueWorkdays in the properties panel"):
        click_on_canvas(page, "triage")
        expect(page.locator(".bio-properties-panel-header-label")).to_have_text(TRIAGE_NAME)
        open_group(page, "group-general")
        name = page.locator("#bio-properties-panel-name")
        expect(name).to_have_value(TRIAGE_NAME)
        name.fill(NEW_TRIAGE_NAME)
        wait_for_model(page, "triage", "bo.name", NEW_TRIAGE_NAME)
        set_extension_property(page, "triage", "dueWorkdays", str(NEW_TRIAGE_DUE))
        label = page.locator('.djs-element[data-element-id="triage"] text')
        assert re.sub(r"\s", "", label.text_content() or "") == NEW_TRIAGE_NAME
        expect(page.locator("#designer-status")).to_have_text("草稿有未部署的修改")

    with step(page, "校验 the draft"):
        page.locator("#btn-validate").click()
        expect(status_is(page, "success")).to_have_text("校验通过，没有发现问题")
        expect(page.locator("#problems-box")).to_be_hidden()

    with step(page, "deploy it as the next version"):
        messages = deploy_from_modeler(page, "研判环节改名，时限改为3个工作日")
        assert messages and "确认部署为新版本" in messages[0]
        status = status_is(page, "success")
        expect(status).to_have_attribute("data-version", str(latest + 1))
        expect(status).to_contain_text(f"已部署为版本 {latest + 1}")
    assert deployed_versions(live_server) == [*before, latest + 1]

    with step(page, "the version list and the diff show the new version and only the triage change"):
        visit(page, f"/design/{KEY}")
        expect(page.locator("#versions tbody tr[data-version]")).to_have_count(len(before) + 1)
        expect(page.locator(f'#versions tr[data-version="{latest + 1}"]')).to_contain_text("designer1")
        expect(page.locator(f'#versions tr[data-version="{latest + 1}"]')).to_contain_text("研判环节改名")
        visit(page, f"/design/{KEY}/diff?from={latest}&to={latest + 1}")
        expect(page.locator("#diff-added")).to_have_count(0)
        expect(page.locator("#diff-removed")).to_have_count(0)
        changed = page.locator("#diff-changed tbody tr")
        expect(changed).to_have_count(2)
        expect(changed.first.locator("td").first).to_have_text("triage")
        expect(page.locator("#diff-changed")).to_contain_text("dueWorkdays")
        expect(page.locator("#diff-changed")).to_contain_text(NEW_TRIAGE_NAME)

    assert engine.queries.show_case(old_case)["definition_version"] == latest
    old_triage = task_row(engine, old_case, "triage")
    assert old_triage["name"] == TRIAGE_NAME and due_workdays_of(engine, old_triage) == TRIAGE_DUE
    new_case = start(engine)
    assert engine.queries.show_case(new_case)["definition_version"] == latest + 1
    new_triage = task_row(engine, new_case, "triage")
    assert new_triage["name"] == NEW_TRIAGE_NAME
    assert due_workdays_of(engine, new_triage) == NEW_TRIAGE_DUE


def test_broken_draft_is_refused_with_the_element_highlighted(page_for: Callable[[str], Page],
                                                              live_server: LiveServer, step: Step) -> None:
    """Proof: a condition that escapes the sandbox (Flow_ineligible) and an unknown form key (summary),
    typed into the properties panel, make 校验 fail with both elements listed and marked on the canvas;
    clicking a problem selects its element; 部署 is refused and no version is added."""
    before = deployed_versions(live_server)
    page = page_for("designer1")
    with step(page, "open the modeler"):
        open_modeler(page)

    with step(page, "type an escaping condition into Flow_ineligible"):
        click_on_canvas(page, "Flow_ineligible")
        open_group(page, "group-CamundaPlatform__Condition")
        expect(page.locator("#bio-properties-panel-conditionType")).to_have_value("expression")
        condition = page.locator("#bio-properties-panel-conditionExpression")
        expect(condition).to_have_value('decision == "ineligible"')
        condition.fill(ESCAPE)
        wait_for_model(page, "Flow_ineligible", "bo.conditionExpression.body", ESCAPE)

    with step(page, "give summary an unknown form key"):
        click_on_canvas(page, "summary")
        open_group(page, "group-CamundaPlatform__Form")
        form_key = page.locator("#bio-properties-panel-formKey")
        expect(form_key).to_have_value("summary")
        form_key.fill("no_such_form")
        wait_for_model(page, "summary", "bo.formKey", "no_such_form")

    problems = page.locator("#problems button.problem")
    with step(page, "校验 lists both problems and marks them on the canvas"):
        page.locator("#btn-validate").click()
        expect(status_is(page, "error")).to_contain_text("个问题")
        expect(page.locator("#problems-box")).to_be_visible()
        for element_id in ("Flow_ineligible", "summary"):
            expect(problems.and_(page.locator(f'[data-element-id="{element_id}"]'))).not_to_have_count(0)
            expect(page.locator(f'.djs-element[data-element-id="{element_id}"]')).to_have_class(
                re.compile(r"\brelief-problem\b"))
        expect(page.locator(".djs-element.relief-problem[data-element-id='triage']")).to_have_count(0)

    with step(page, "clicking a problem selects its element"):
        problems.and_(page.locator('[data-element-id="Flow_ineligible"]')).first.click()
        assert selected_ids(page) == ["Flow_ineligible"]
        problems.and_(page.locator('[data-element-id="summary"]')).first.click()
        expect(page.locator('.djs-element[data-element-id="summary"]')).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator('.djs-element[data-element-id="Flow_ineligible"]')).not_to_have_class(
            re.compile(r"\bselected\b"))
        assert selected_ids(page) == ["summary"]

    with step(page, "deploying the broken draft is refused"):
        deploy_from_modeler(page, "坏草稿，不应部署")
        expect(status_is(page, "error")).to_have_text("校验未通过，未部署")
        assert page.locator("#designer-status").get_attribute("data-version") is None
        expect(problems.and_(page.locator('[data-element-id="Flow_ineligible"]'))).not_to_have_count(0)
    assert deployed_versions(live_server) == before
    with step(page, "the version list is unchanged"):
        visit(page, f"/design/{KEY}")
        expect(page.locator("#versions tbody tr[data-version]")).to_have_count(len(before))


def _parse(xml: bytes) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    return etree.ElementTree(etree.fromstring(xml, parser))


def _engine_view(xml: bytes) -> dict[str, dict[str, Any]]:
    """Per element with an id (DI excluded): what the engine reads of it."""
    root = _parse(xml).getroot()
    view: dict[str, dict[str, Any]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("id") is None:
            continue
        if element.xpath("ancestor-or-self::bpmndi:BPMNDiagram", namespaces=NS):
            continue
        texts = {}
        for path in KEPT_TEXTS:
            nodes = element.xpath(f"./bpmn:{path}", namespaces=NS)
            if nodes:
                texts[path] = [(n.text or "").strip() for n in nodes]
        loop = {}
        for characteristics in element.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS):
            loop["isSequential"] = characteristics.get("isSequential")
            for child in LOOP_CHILDREN:
                loop[child] = [((c.text or "").strip(), dict(c.attrib))
                               for c in characteristics.xpath(f"./bpmn:{child}", namespaces=NS)]
        view[element.get("id")] = {
            "tag": etree.QName(element).localname,
            "attributes": {a: element.get(a) for a in KEPT_ATTRIBUTES if element.get(a) is not None},
            "texts": texts,
            "camunda_properties": [(p.get("name"), p.get("value")) for p in element.xpath(
                "./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)],
            "loop": loop,
            "bpmn_properties": [dict(p.attrib) for p in element.xpath("./bpmn:property", namespaces=NS)],
        }
    return view


def test_modeler_round_trip_keeps_engine_attributes(page_for: Callable[[str], Page], step: Step) -> None:
    """Proof: the deployed process imported into bpmn-js and saved without edits keeps every attribute the
    engine reads (forms, groups, conditions, scripts, timers, dueWorkdays / caseStatus, the multi-instance
    data items, process properties); it passes the deploy checks and the server's 校验."""
    page = page_for("designer1")
    with step(page, "open the modeler and save the draft"):
        open_modeler(page)
        saved = str(page.evaluate("ReliefModeler.saveXML()"))
    saved_bytes = saved.encode("utf-8")
    shipped, round_tripped = _engine_view(BPMN_PATH.read_bytes()), _engine_view(saved_bytes)
    assert len(shipped) > 60 and "dept_handling" in shipped
    assert sorted(round_tripped) == sorted(shipped)
    differing = {i: (shipped[i], round_tripped[i]) for i in shipped if shipped[i] != round_tripped[i]}
    assert differing == {}
    assert shipped["dept_handling"]["loop"]["loopDataInputRef"] == [("departments", {})]
    assert shipped["dept_handling"]["loop"]["inputDataItem"] == [("", {"id": "department", "name": "department"})]

    assert definitions.validate(saved_bytes, "saved.bpmn", suite_settings()).key == KEY
    assert check_draft(saved_bytes, "saved.bpmn", suite_settings()) == []

    with step(page, "the server's 校验 accepts the saved draft"):
        answer = page.evaluate("""async () => {
            const root = document.getElementById('designer');
            const xml = await ReliefModeler.saveXML();
            const response = await fetch(root.dataset.validateUrl, {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf,
                          'Accept': 'application/json'},
                body: JSON.stringify({xml})});
            return {status: response.status, body: await response.json()};
        }""")
        assert answer == {"status": 200, "body": {"ok": True, "problems": [], "warnings": []}}


def test_samples_run_from_the_modeler(page_for: Callable[[str], Page], live_server: LiveServer, engine: Any,
                                      step: Step) -> None:
    """Proof: 样例试运行 plays every sample of processes/samples/relief_linkage.yaml through the draft and
    shows each as 符合预期; the status says all passed; no case is created."""
    samples = [s["name"] for s in load_samples(KEY)]
    assert len(samples) >= 6
    page = page_for("designer1")
    with step(page, "run the samples"):
        open_modeler(page)
        page.locator("#btn-try").click()
        expect(status_is(page, "success")).to_have_text(f"全部 {len(samples)} 个样例按预期运行")
        rows = page.locator("#try-results tbody tr")
        expect(rows).to_have_count(len(samples))
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.sample)") == samples
        expect(page.locator("#try-results tbody tr.sample-passed")).to_have_count(len(samples))
        for i in range(len(samples)):
            expect(rows.nth(i).locator("td").nth(1)).to_have_text("符合预期")
            expect(rows.nth(i).locator("td").nth(2)).not_to_have_text("—")
        expect(page.locator("#problems-box")).to_be_hidden()
    assert instance_count(live_server) == 0
    assert engine.queries.list_tasks() == []


def _act(page: Page, form: str, reason: str, accept: bool = True, **selects: str) -> list[str]:
    """Fill the action form's reason (and selects), click its button and answer the confirmation."""
    action = page.locator(f"#action-{form}")
    for name, value in selects.items():
        action.locator(f"select[name='{name}']").select_option(value)
    action.locator("input[name=reason]").fill(reason)
    seen: list[str] = []
    accept_next_dialog(page, seen, accept)
    if accept:
        with page.expect_navigation():
            action.locator("button[type=submit]").click()
        expect(page.locator("body[data-viewer-ready='1']")).to_have_count(1)
    else:
        action.locator("button[type=submit]").click()
    return seen


def test_instance_page_shows_overlays_and_actions_work(page_for: Callable[[str], Page], engine: Any,
                                                       step: Step) -> None:
    """Proof: the instance page draws the case's own version with 一门受理 done and 受理告知 active (markers and
    badges); suspend and resume ask first (dismissing changes nothing), take effect and are in the history;
    migrating to v2 (confirmed) moves the case, shown on the page and in the engine."""
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng")
    page = page_for("admin1")
    status = page.locator("#instance-status")

    with step(page, "find the case in the instance list and open it"):
        visit(page, "/admin/instances")
        row = page.locator(f'#instances tr[data-case-no="{case_no}"]')
        expect(row).to_have_count(1)
        expect(row).to_contain_text("v1")
        with page.expect_navigation():
            row.get_by_role("link", name=case_no).click()
        expect(page).to_have_url(re.compile(rf"/admin/instances/{case_no}$"))
        expect(page.locator("body[data-viewer-ready='1']")).to_have_count(1)

    with step(page, "the diagram shows triage done and dept_accept active"):
        assert page.evaluate("['triage', 'dept_accept'].every(id => !!ReliefViewer.viewer.get('elementRegistry')"
                             ".get(id))")
        expect(page.locator('.djs-element[data-element-id="triage"]')).to_have_class(re.compile(r"\brelief-done\b"))
        expect(page.locator('.djs-element[data-element-id="dept_accept"]')).to_have_class(
            re.compile(r"\brelief-active\b"))
        expect(page.locator('.djs-element[data-element-id="dept_accept"]')).not_to_have_class(
            re.compile(r"\brelief-done\b"))
        expect(page.locator('.djs-element[data-element-id="summary"]')).not_to_have_class(
            re.compile(r"\brelief-(done|active)\b"))
        expect(page.locator('.relief-badge.relief-badge-done[data-element-id="triage"]')).to_have_count(1)
        expect(page.locator('.relief-badge.relief-badge-active[data-element-id="dept_accept"]')).to_have_count(1)
        expect(status).to_have_attribute("data-status", "open")

    with step(page, "dismissing the confirmation leaves the case as it is"):
        page.evaluate("window.__same_page = true")
        seen = _act(page, "suspend", "不应挂起", accept=False)
        assert seen and "确认挂起" in seen[0]
        page.wait_for_timeout(300)
        assert page.evaluate("window.__same_page === true"), "the form was submitted although the dialog was dismissed"
        expect(status).to_have_attribute("data-status", "open")
        assert engine.queries.show_case(case_no)["status"] == "open"

    with step(page, "suspend with a reason"):
        seen = _act(page, "suspend", "核实申请人身份")
        assert seen and "确认挂起" in seen[0]
        expect(status).to_have_attribute("data-status", "suspended")
        entry = page.locator('ol.history li[data-event="case_suspended"]')
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("挂起")
        expect(entry).to_contain_text("原因：核实申请人身份")
        expect(page.locator("#action-suspend")).to_have_count(0)
    assert engine.queries.show_case(case_no)["status"] == "suspended"

    with step(page, "resume with a reason"):
        seen = _act(page, "resume", "身份已核实")
        assert seen and "确认恢复" in seen[0]
        expect(status).to_have_attribute("data-status", "open")
        expect(page.locator('ol.history li[data-event="case_resumed"]')).to_contain_text("原因：身份已核实")
    assert engine.queries.show_case(case_no)["status"] == "open"

    v2 = engine.deploy(moved_shape(BPMN_PATH.read_bytes()), BPMN_PATH.name, "designer1", "v2（仅布局变化）")
    assert v2.changed and v2.version == 2 and v2.layout_only
    with step(page, "migrate to v2"):
        visit(page, f"/admin/instances/{case_no}")
        expect(page.locator("h1 .muted")).to_have_text(f"{KEY} v1")
        expect(page.locator("#migration-checks")).to_contain_text("v2：可以迁移")
        seen = _act(page, "migrate", "采用新版本", to_version="2")
        assert seen and "确认将该案件迁移" in seen[0]
        expect(page.locator("h1 .muted")).to_have_text(f"{KEY} v2")
        expect(page.locator('ol.history li[data-event="case_migrated"]')).to_contain_text("v1 → v2")
        expect(page.locator('.djs-element[data-element-id="dept_accept"]')).to_have_class(
            re.compile(r"\brelief-active\b"))
    assert engine.queries.show_case(case_no)["definition_version"] == 2
    assert engine.queries.show_case(case_no)["status"] == "open"


def test_heat_page_renders_overlays(page_for: Callable[[str], Page], engine: Any, step: Step) -> None:
    """Proof: after tasks are completed, the heat view draws a heat badge per user task and colours the
    elements by their time (relief-heat-N markers); the completed task's row counts it."""
    for _ in range(2):
        case_no = start(engine)
        dispatch(engine, case_no, "minzheng")
    engine.complete_task(task_row(engine, case_no, "dept_accept")["id"], "mz1",
                         {"materials": ["身份证"], "location": "民政局", "field_work": "none"})
    page = page_for("admin1")
    with step(page, "open the heat view"):
        visit(page, "/admin/heat")
        expect(page.locator("body[data-viewer-ready='1']")).to_have_count(1)
        badges = page.locator(".relief-badge.relief-badge-heat")
        expect(badges).not_to_have_count(0)
        expect(page.locator('.relief-badge-heat[data-element-id="triage"]')).to_contain_text("在办 0")
        expect(page.locator('.relief-badge-heat[data-element-id="dept_accept"]')).to_contain_text("在办 1")
        heated = page.locator(".djs-element").evaluate_all(
            "es => es.filter(e => [...e.classList].some(c => /^relief-heat-\\d$/.test(c)))"
            ".map(e => e.dataset.elementId)")
        assert {"triage", "dept_accept"} <= set(heated)
        expect(page.locator('#heat-table tr[data-element-id="triage"] td').nth(1)).to_have_text("2")


def test_decision_table_edited_beside_the_diagram_changes_the_next_triage(
        page_for: Callable[[str], Page], engine: Any, step: Step) -> None:
    """Proof (issue 10): from the modeler the designer opens the suggestion table in dmn-js, raises the
    低保 line from 850 to 1000 元 in two cells and deploys; the linkage flow follows the new table, and the
    next case with 950 元 per person has 最低生活保障 suggested (pre-ticked) on the triage form."""
    page = page_for("designer1")
    with step(page, "open the decision table from the modeler"):
        open_modeler(page)
        page.locator('a[data-decision="relief_suggestion"]').click()
        expect(page.locator("body[data-decisions-ready='1']")).to_have_count(1)
        expect(page.locator("#decision-editor")).to_contain_text("人均月收入")
    with step(page, "edit the two income cells"):
        for old, new in (("< 850", "< 1000"), ("850 <= ? < 1275", "1000 <= ? < 1275")):
            cell = page.locator("#decision-editor td", has_text=old).first
            cell.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(new)
            page.keyboard.press("Escape")
            expect(page.locator("#decision-editor td", has_text=new).first).to_be_visible()
        expect(page.locator("#designer-status")).to_have_text("决策表有未部署的修改")
    with step(page, "deploy the table"):
        page.locator("#deploy-comment").fill("当地低保标准调整为 1000 元")
        seen: list[str] = []
        accept_next_dialog(page, seen)
        page.locator("#btn-deploy-decision").click()
        status = status_is(page, "success")
        expect(status).to_contain_text("relief_suggestion v2")
        expect(status).to_contain_text("relief_linkage v")
        assert seen and "决策表新版本" in seen[0]
    case_no = start(engine, situation={"monthly_income": 950})
    center = page_for("center1")
    with step(center, "the next triage shows the new suggestion"):
        visit(center, f"/tasks/{task_row(engine, case_no, 'triage')['id']}")
        expect(center.locator('input[name="matters"][value="dibao"]')).to_be_checked()
        expect(center.locator('input[name="departments"][value="minzheng"]')).to_be_checked()


def test_a_draft_missing_triage_is_refused_with_the_failing_samples(
        page_for: Callable[[str], Page], live_server: LiveServer, step: Step) -> None:
    """Proof (issue 10): 一门受理 deleted (its flows joined) passes 校验 but 部署 runs the samples and refuses
    it, listing the eight that fail; no version is added."""
    from tests.support.bpmn import without_triage

    before = deployed_versions(live_server)
    page = page_for("designer1")
    with step(page, "the draft without triage in the modeler"):
        open_modeler(page)
        page.evaluate("xml => ReliefModeler.modeler.importXML(xml)", without_triage().decode())
        page.locator("#btn-validate").click()
        expect(status_is(page, "success")).to_have_text("校验通过，没有发现问题")
    with step(page, "deploy is refused with the samples"):
        deploy_from_modeler(page, "去掉一门受理")
        refusal = f"{SHIPPED_SAMPLES} 个样例中有 {SHIPPED_SAMPLES} 个未按预期运行，未部署"
        expect(status_is(page, "error")).to_contain_text(refusal)
        expect(page.locator("#try-results tbody tr")).to_have_count(SHIPPED_SAMPLES)
        expect(page.locator("#override-box")).to_be_hidden()
    assert deployed_versions(live_server) == before
