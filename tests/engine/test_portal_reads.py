"""The portal's public reads (`CaseEngine.portal`): the flow's steps with their documentation, the service
windows however the organisations are filed."""

from __future__ import annotations

from typing import Any

from engine.access.orgs import upsert_organisation
from engine.bpmn.elements import documentation
from engine.bpmn.loader import parse_safely
from tests.support.bpmn import SHIPPED, edit
from tests.support.db import engine_for, tx


def test_steps_carry_their_documentation_from_inside_subprocesses(case_engine: Any) -> None:
    """Every user task of the newest version, the department subprocess's too, comes with its documentation and
    due working days; a task without documentation gets ''."""
    steps = {s["id"]: s for s in case_engine.portal.linkage_process()["steps"]}
    assert steps["dept_accept"]["documentation"].startswith("依据R-5.4协同办理，主管部门接收派单后")
    assert steps["field_report"]["due_workdays"] == 10
    case_engine.deploy(edit(SHIPPED, r"(<bpmn:userTask id=\"summary\"[^>]*>)\s*<bpmn:documentation>.*?"
                                     r"</bpmn:documentation>", r"\1", regex=True), "relief_linkage.bpmn", "test")
    process = case_engine.portal.linkage_process()
    assert process["version"] == 2 and process["steps"][-1] == {
        "id": "summary", "name": "办结汇总", "documentation": "", "due_workdays": 2}


def test_documentation_joins_several_and_skips_empty_ones() -> None:
    """Several documentation elements are kept as paragraphs; blank ones and other children are not text."""
    tree = parse_safely(b'<bpmn:userTask xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="t">'
                        b"<bpmn:documentation> \xe7\xac\xac\xe4\xb8\x80 </bpmn:documentation><bpmn:documentation/>"
                        b"<bpmn:incoming>x</bpmn:incoming><bpmn:documentation>\xe7\xac\xac\xe4\xba\x8c"
                        b"</bpmn:documentation></bpmn:userTask>", "t.bpmn")
    assert documentation(tree.getroot()) == "第一\n\n第二"


def test_nothing_deployed_means_no_process(county_db: str) -> None:
    """Before the first deployment the portal has no process to show."""
    assert engine_for(county_db).portal.linkage_process() is None


def test_windows_keep_a_village_whose_township_is_not_on_record(county_db: str) -> None:
    """Villages go under their township; one filed under the center is still listed, apart; departments and
    the joint office keep no window."""
    with tx(county_db) as session:
        upsert_organisation(session, "C01V01", "中心直属社区", "village", "center")
    windows = engine_for(county_db).portal.service_windows()
    assert [w["code"] for w in windows["county"]] == ["center"]
    assert [(t["code"], [v["code"] for v in t["villages"]]) for t in windows["townships"]] == [
        ("T01", ["T01V01", "T01V02"]), ("T02", ["T02V01", "T02V02"])]
    assert windows["unplaced"] == [{"code": "C01V01", "name": "中心直属社区", "address": "", "hours": "", "phone": "",
                                    "tel": "", "matters": []}]


def test_each_window_comes_with_its_details_and_the_hall_knows_whether_any_are_published(county_db: str) -> None:
    """The center's window carries the demo address, hours, phone and its tel: link; with every detail cleared
    the hall is told none are published."""
    from sqlalchemy import update

    from engine.tables import ORGS

    engine = engine_for(county_db)
    windows = engine.portal.service_windows()
    assert windows["county"] == [{"code": "center", "name": "示范县社会救助中心",
                                  "address": "示范县人民路 88 号县政务服务中心一楼 社会救助综合窗口",
                                  "hours": "周一至周五 8:30-12:00，14:00-17:30（法定节假日除外）",
                                  "phone": "0512-60000000", "tel": "tel:051260000000", "matters": []}]
    assert windows["townships"][1]["phone"] == "0512-60002200" and windows["published"] is True
    with tx(county_db) as session:
        session.execute(update(ORGS).values(address="", hours="", phone=""))
    assert engine.portal.service_windows()["published"] is False
