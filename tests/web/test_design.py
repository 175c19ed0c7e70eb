"""Process design pages: role gate, validate, try samples, deploy with comment (audited), versions, diff, upload."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import select

from engine.models import AuditLog
from tests.support.bpmn import SHIPPED_SAMPLES, without_triage
from tests.support.db import BPMN_PATH, tx

SHIPPED = BPMN_PATH.read_text(encoding="utf-8")
TRIAGE_NAME = 'name="一门受理·初步研判"'


def renamed(xml: str = SHIPPED) -> str:
    """The shipped process with the triage task renamed and its due property changed (2 → 3)."""
    text = xml.replace(TRIAGE_NAME, 'name="一门受理·初步研判（改）"', 1)
    start = text.index('id="triage"')
    due = text.index('name="dueWorkdays" value="2"', start)
    return text[:due] + 'name="dueWorkdays" value="3"' + text[due + len('name="dueWorkdays" value="2"'):]


def escaping(xml: str = SHIPPED) -> str:
    """A draft whose 不予受理 condition tries to escape the sandbox."""
    return xml.replace('decision == "ineligible"</bpmn:conditionExpression>',
                       '().__class__.__bases__[0].__subclasses__()</bpmn:conditionExpression>', 1)


@pytest.mark.parametrize("username", ["center1", "mz1", "clerk_v", "analyst1"])
def test_only_designers_and_admins_reach_the_design_pages(login: Any, username: str) -> None:
    """Role gate: every design endpoint answers 403 to anyone but designers and administrators."""
    client = login(username)
    assert client.get("/design/relief_linkage").status_code == 403
    assert client.get("/design/relief_linkage/modeler").status_code == 403
    assert client.get("/design/relief_linkage/v1.bpmn").status_code == 403
    assert client.post("/design/relief_linkage/validate", json={"xml": SHIPPED}).status_code == 403
    assert client.post("/design/relief_linkage/deploy", json={"xml": renamed(), "comment": "x"}).status_code == 403


@pytest.mark.parametrize("username", ["designer1", "admin1"])
def test_designers_and_admins_open_the_modeler(login: Any, username: str) -> None:
    """The modeler page embeds the deployed XML and loads the bundled modeler."""
    page = login(username).get("/design/relief_linkage/modeler")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'id="modeler-canvas"' in html and "dist/modeler.js" in html and 'id="draft-xml"' in html
    assert "camunda:formKey" in html


def test_validate_reports_problems_with_element_ids(login: Any) -> None:
    """The shipped process validates; an escaping condition and a missing form are reported by element."""
    client = login("designer1")
    ok = client.post("/design/relief_linkage/validate", json={"xml": SHIPPED}).get_json()
    assert ok == {"ok": True, "problems": [], "warnings": []}
    broken = escaping().replace('camunda:formKey="summary"', 'camunda:formKey="no_such_form"', 1)
    answer = client.post("/design/relief_linkage/validate", json={"xml": broken}).get_json()
    assert answer["ok"] is False
    elements = {p["element_id"] for p in answer["problems"]}
    assert {"Flow_ineligible", "summary"} <= elements
    assert all(p["message"] for p in answer["problems"])


def test_validate_refuses_doctype_and_empty_bodies(login: Any) -> None:
    """A DOCTYPE (XXE) is a problem, not parsed; a body without XML is a 400 with a Chinese message."""
    client = login("designer1")
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + SHIPPED.split("?>", 1)[1]
    answer = client.post("/design/relief_linkage/validate", json={"xml": xxe}).get_json()
    assert answer["ok"] is False and "root:" not in str(answer)
    empty = client.post("/design/relief_linkage/validate", json={})
    assert empty.status_code == 400 and "XML" in empty.get_json()["message"]


def test_try_runs_the_samples_against_the_draft_without_cases(login: Any, engine: Any) -> None:
    """Every shipped sample passes on the shipped process; no case is created."""
    client = login("designer1")
    answer = client.post("/design/relief_linkage/try", json={"xml": SHIPPED}).get_json()
    assert answer["ok"] is True
    assert len(answer["results"]) >= 6
    assert all(r["status"] == "passed" and r["end"] for r in answer["results"])
    assert engine.queries.list_tasks() == []


def test_deploy_needs_a_comment_then_makes_the_next_version_and_audits(login: Any, engine: Any, demo_db: str) -> None:
    """Deploy: comment required; a valid draft becomes v2 (audited); the same draft again changes nothing."""
    client = login("designer1")
    refused = client.post("/design/relief_linkage/deploy", json={"xml": renamed(), "comment": " "})
    assert refused.status_code == 422 and "部署说明" in refused.get_json()["message"]
    comment = "研判环节改名，时限改为3个工作日"
    done = client.post("/design/relief_linkage/deploy", json={"xml": renamed(), "comment": comment})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["version"] == 2
    again = client.post("/design/relief_linkage/deploy", json={"xml": renamed(), "comment": "重复"})
    assert again.status_code == 200 and again.get_json()["changed"] is False
    with tx(demo_db) as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "deploy_definition")
                                  .order_by(AuditLog.id)).all()
        assert [(e.actor, e.target, e.details["comment"]) for e in entries][-1] == (
            "designer1", "relief_linkage@v2", "研判环节改名，时限改为3个工作日")
    versions = client.get("/design/relief_linkage").data.decode()
    assert "研判环节改名" in versions and 'data-version="2"' in versions


def test_deploy_refuses_a_broken_draft_with_its_problems(login: Any) -> None:
    """A broken draft is not deployed; the answer names the element."""
    client = login("designer1")
    refused = client.post("/design/relief_linkage/deploy", json={"xml": escaping(), "comment": "坏草稿"})
    assert refused.status_code == 422
    assert "Flow_ineligible" in {p["element_id"] for p in refused.get_json()["problems"]}
    assert 'data-version="2"' not in client.get("/design/relief_linkage").data.decode()


def test_deploy_refuses_another_process_key(login: Any) -> None:
    """The modeler of relief_linkage does not deploy a different process."""
    other = SHIPPED.replace('<bpmn:process id="relief_linkage"', '<bpmn:process id="other_process"', 1)
    answer = login("designer1").post("/design/relief_linkage/deploy", json={"xml": other, "comment": "x"})
    assert answer.status_code == 422
    assert any("流程标识" in p["message"] for p in answer.get_json()["problems"])


def test_download_and_diff_between_versions(login: Any) -> None:
    """Each version downloads exactly as deployed; the diff shows the renamed task and the changed due property."""
    client = login("designer1")
    client.post("/design/relief_linkage/deploy", json={"xml": renamed(), "comment": "改名"})
    v1 = client.get("/design/relief_linkage/v1.bpmn")
    assert v1.status_code == 200 and "attachment" in v1.headers["Content-Disposition"]
    assert v1.data.decode() == SHIPPED
    assert client.get("/design/relief_linkage/v9.bpmn").status_code == 404
    page = client.get("/design/relief_linkage/diff?from=1&to=2").data.decode()
    assert "triage" in page and "一门受理·初步研判（改）" in page
    assert "dueWorkdays" in page and "修改 1 项" in page


def test_upload_from_the_desktop_modeler_validates_then_deploys(login: Any) -> None:
    """An uploaded file gets the same checks; a broken one is listed with element ids, a good one deploys."""
    client = login("designer1")
    bad = client.post("/design/relief_linkage/upload", data={
        "file": (io.BytesIO(escaping().encode()), "camunda.bpmn"), "comment": "上传", "action": "deploy"},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "Flow_ineligible" in bad.data.decode()
    missing = client.post("/design/relief_linkage/upload", data={"comment": "x", "action": "validate"},
                          content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择" in missing.data.decode()
    good = client.post("/design/relief_linkage/upload", data={
        "file": (io.BytesIO(renamed().encode()), "camunda.bpmn"), "comment": "桌面建模器修改", "action": "deploy"},
        content_type="multipart/form-data", follow_redirects=True)
    assert good.status_code == 200 and "桌面建模器修改" in good.data.decode()
    assert 'data-version="2"' in good.data.decode()


def test_deploy_from_the_modeler_is_refused_when_samples_fail(login: Any, demo_db: str) -> None:
    """The modeler's deploy runs the samples: refused with each failing sample; only an administrator
    may deploy it anyway, with a reason (audited)."""
    draft = without_triage().decode()
    designer = login("designer1")
    refused = designer.post("/design/relief_linkage/deploy", json={"xml": draft, "comment": "删掉受理"})
    body = refused.get_json()
    assert refused.status_code == 422 and body["may_override"] is False
    assert len(body["results"]) == SHIPPED_SAMPLES
    assert body["results"][0]["status_label"] in ("停在人工环节", "运行出错", "不符合预期")
    assert "未部署" in body["message"]
    forced = designer.post("/design/relief_linkage/deploy", json={
        "xml": draft, "comment": "删掉受理", "despite_samples": True, "reason": "试试"})
    assert forced.status_code == 403 and "管理员" in forced.get_json()["message"]
    admin = login("admin1")
    assert admin.post("/design/relief_linkage/deploy", json={"xml": draft, "comment": "删掉受理"}).get_json()[
        "may_override"] is True
    done = admin.post("/design/relief_linkage/deploy", json={
        "xml": draft, "comment": "删掉受理", "despite_samples": True, "reason": "受理改在线下"})
    assert done.status_code == 201, done.get_json()
    with tx(demo_db) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "deploy_despite_samples")).one()
    assert (entry.actor, entry.details["despite_samples"]) == ("admin1", "受理改在线下")


def test_upload_lists_the_failing_samples_and_offers_the_override_to_administrators(login: Any) -> None:
    form = {"file": (io.BytesIO(without_triage()), "camunda.bpmn"), "comment": "上传", "action": "deploy"}
    page = login("designer1").post("/design/relief_linkage/upload", data=form, content_type="multipart/form-data")
    html = page.data.decode()
    assert page.status_code == 422 and 'id="upload-samples"' in html and "不符合救助条件·不予受理" in html
    assert 'name="despite_samples"' not in html
    form = {"file": (io.BytesIO(without_triage()), "camunda.bpmn"), "comment": "上传", "action": "deploy"}
    admin = login("admin1").post("/design/relief_linkage/upload", data=form, content_type="multipart/form-data")
    assert admin.status_code == 422 and 'name="despite_samples"' in admin.data.decode()
    form = {"file": (io.BytesIO(without_triage()), "camunda.bpmn"), "comment": "上传", "action": "deploy",
            "despite_samples": "1", "reason": "线下受理"}
    forced = login("admin1").post("/design/relief_linkage/upload", data=form, content_type="multipart/form-data",
                                  follow_redirects=True)
    assert forced.status_code == 200 and 'data-version="2"' in forced.data.decode()


def test_upload_several_files_or_a_zip_deploys_them_together(login: Any, engine: Any) -> None:
    """A call activity across two files: both files in one upload (or in a zip) deploy together."""
    import zipfile

    corpus = BPMN_PATH.parents[1] / "tests" / "data" / "bpmn"
    client = login("designer1")
    parent = (corpus / "review_parent.bpmn").read_bytes()
    child = (corpus / "review_child.bpmn").read_bytes()
    alone = client.post("/design/relief_linkage/upload", data={
        "file": [(io.BytesIO(parent), "review_parent.bpmn")], "comment": "父", "action": "deploy"},
        content_type="multipart/form-data")
    assert alone.status_code == 422  # one file is a draft of this page's process: another key is refused
    both = client.post("/design/relief_linkage/upload", data={
        "file": [(io.BytesIO(parent), "review_parent.bpmn"), (io.BytesIO(child), "review_child.bpmn")],
        "comment": "父子一起", "action": "deploy"}, content_type="multipart/form-data", follow_redirects=True)
    assert both.status_code == 200 and "review_parent v1" in both.data.decode()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("rule_check.bpmn", (corpus / "rule_check.bpmn").read_bytes())
        archive.writestr("income_rule.dmn", (corpus / "income_rule.dmn").read_bytes())
    zipped = client.post("/design/relief_linkage/upload", data={
        "file": [(io.BytesIO(packed.getvalue()), "rules.zip")], "comment": "决策表", "action": "deploy"},
        content_type="multipart/form-data", follow_redirects=True)
    assert zipped.status_code == 200 and "income_rule v1" in zipped.data.decode()


def test_the_design_index_lists_every_process_and_decision(login: Any, engine: Any) -> None:
    corpus = BPMN_PATH.parents[1] / "tests" / "data" / "bpmn"
    from engine.bpmn.deployment import DeployFile

    names = ("rule_check.bpmn", "income_rule.dmn")
    engine.design.deploy_files([DeployFile(n, (corpus / n).read_bytes()) for n in names], "designer1", "规则")
    html = login("designer1").get("/design/").data.decode()
    assert html.index('data-key="relief_linkage"') < html.index('data-key="income_check"')
    assert 'data-key="income_rule" data-kind="dmn"' in html and "收入是否低于低保标准" in html


def test_validate_gives_warnings_that_do_not_refuse(login: Any) -> None:
    """A task without any deadline validates, with a warning naming it (issue 10)."""
    start = SHIPPED.index('<bpmn:userTask id="summary"')
    end = SHIPPED.index("</bpmn:userTask>", start)
    task = SHIPPED[start:end]
    no_due = SHIPPED[:start] + re.sub(r'<camunda:property name="dueWorkdays" value="\d+" />', "", task) + SHIPPED[end:]
    answer = login("designer1").post("/design/relief_linkage/validate", json={"xml": no_due}).get_json()
    assert answer["ok"] is True and answer["problems"] == []
    assert [(w["element_id"], "办理时限" in w["message"]) for w in answer["warnings"]] == [("summary", True)]


def test_upload_of_a_utf16_file_deploys_without_an_error_page(login: Any) -> None:
    """Issue 10: a UTF-16 file from the desktop modeler used to answer 500 on deploy."""
    text = renamed().replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    page = login("designer1").post("/design/relief_linkage/upload", data={
        "file": (io.BytesIO(text.encode("utf-16")), "utf16.bpmn"), "comment": "UTF-16 文件", "action": "deploy"},
        content_type="multipart/form-data", follow_redirects=True)
    assert page.status_code == 200 and 'data-version="2"' in page.data.decode()
