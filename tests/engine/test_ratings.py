"""好差评 (R-6.3.6): one rating per case after it ends, from the portal (query code), 12345 or a window;
a 差评 starts feedback_rectification (回访 → 核实 → 整改 → told → 追评) with its steps in the rated case's
history; an unfounded one is closed by the center; a second rating is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.deadlines.jobs import tick
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.models import Consultation, Notification, Rating, RatingSubject
from tests.support.cases import RECTIFICATION_BPMN, applicant, open_task
from tests.support.cases import closed_case as support_closed_case
from tests.support.db import tx

CODE = "ABCD2345"


@pytest.fixture
def rating_engine(case_engine: Any) -> Any:
    """The case engine with the rectification process deployed."""
    case_engine.deploy(RECTIFICATION_BPMN.read_bytes(), RECTIFICATION_BPMN.name, "test")
    return case_engine


def closed_case(engine: Any, departments: tuple[str, ...] = ("minzheng",), matters: tuple[str, ...] = ("linshi",),
                channel: str = "online") -> str:
    """A closed case (online with the query code CODE, or from the village window)."""
    return support_closed_case(engine, departments, matters, CODE if channel == "online" else None)


def history(engine: Any, case_no: str) -> list[str]:
    return [e["type"] for e in engine.queries.show_case(case_no)["history"]]


def test_a_good_rating_is_attached_to_case_matter_department_and_window(rating_engine: Any, clean_db: str) -> None:
    """满意 on the portal: stored with the case's matter, its department and the registering window and
    clerk; no rectification; the history shows it; the case cannot be rated again."""
    case_no = closed_case(rating_engine, channel="window")
    done = rating_engine.ratings.rate_case(case_no, "window", "satisfied", ["overall", "attitude"], "很好")
    assert done["rectification_case_no"] is None and done["level_name"] == "满意"
    with tx(clean_db) as session:
        rating = session.scalars(select(Rating)).one()
        subjects = {(s.kind, s.code) for s in session.scalars(select(RatingSubject))}
    assert (rating.case_no, rating.org_code, rating.clerk, rating.channel) == (case_no, "T01V01", "clerk_v", "window")
    assert rating.month == clock.local_text(clock.now(), "%Y-%m")
    assert subjects == {("matter", "linshi"), ("department", "minzheng")}
    assert history(rating_engine, case_no)[-1] == "rated"
    with pytest.raises(TaskConflict, match="只能评价一次"):
        rating_engine.ratings.rate_case(case_no, "portal", "very_satisfied")


def test_refusals(rating_engine: Any, clean_db: str) -> None:
    """An open case, a wrong code, an unknown level or a tag of another channel are refused; nothing is stored."""
    case_no, _ = rating_engine.start_case(applicant(), "online", "county", query_code=CODE, actor="applicant",
                                          consent=True)
    with pytest.raises(TaskConflict, match="办结后才能评价"):
        rating_engine.ratings.rate_online(case_no, CODE, "satisfied")
    with pytest.raises(NotFound, match="查询码不正确"):
        rating_engine.ratings.rate_online(case_no, "WRONG999", "satisfied")
    with pytest.raises(InvalidData) as bad:
        rating_engine.ratings.rate_case(case_no, "portal", "great", ["attitude"], "x" * 501)
    assert set(bad.value.errors) == {"level", "tags", "comment"}
    with tx(clean_db) as session:
        assert session.scalars(select(Rating)).all() == []


def test_a_poor_rating_runs_the_rectification_loop_to_a_follow_up(rating_engine: Any, clean_db: str) -> None:
    """不满意 online: 民政局 (the one department) gets 回访, then 核实 and 整改; the applicant is told by SMS
    and may rate once more (追评), which ends the process; a third rating is refused; every step is in
    the rated case's history."""
    case_no = closed_case(rating_engine)
    done = rating_engine.ratings.rate_online(case_no, CODE, "dissatisfied", ["efficiency_online"], "太慢")
    loop = done["rectification_case_no"]
    assert loop and loop.startswith("LC")
    with pytest.raises(TaskConflict, match="整改完成并告知结果后才能追评"):
        rating_engine.ratings.rate_online(case_no, CODE, "satisfied")
    [callback] = rating_engine.queries.list_tasks(case_no=loop)
    assert callback["form_key"] == "feedback_callback" and callback["candidate_groups"] == ["minzheng"]
    rating_engine.complete_task(callback["id"], "mz1", {"callback_result": "reached", "callback_note": "等太久"})
    rating_engine.complete_task(open_task(rating_engine, loop, "feedback_verify"), "mz1",
                                {"finding": "founded", "facts": "超时 2 天"})
    rating_engine.complete_task(open_task(rating_engine, loop, "feedback_rectify"), "mz1",
                                {"measures": "专人跟踪时限"})
    with tx(clean_db) as session:
        told = session.scalars(select(Notification).where(Notification.case_no == case_no)
                               .order_by(Notification.id.desc())).first()
    assert told is not None and told.kind == "rectified" and "专人跟踪时限" in told.content
    assert rating_engine.ratings.may_rate(case_no, CODE)["follow_up"] is True
    again = rating_engine.ratings.rate_online(case_no, CODE, "satisfied", ["overall"])
    assert again["follow_up"] is True
    assert rating_engine.queries.show_case(loop)["status"] == "closed_completed"
    with pytest.raises(TaskConflict, match="只能评价一次"):
        rating_engine.ratings.rate_online(case_no, CODE, "very_satisfied")
    steps = history(rating_engine, case_no)
    assert steps.count("rated") == 2 and "feedback_verified" in steps and "feedback_rectified" in steps


def test_several_departments_make_the_center_responsible(rating_engine: Any, clean_db: str) -> None:
    """A case two departments handled: the 差评 goes to the center; both departments are its subjects."""
    case_no = closed_case(rating_engine, ("minzheng", "yibao"), ("linshi", "yiliao"))
    loop = rating_engine.ratings.rate_online(case_no, CODE, "very_dissatisfied")["rectification_case_no"]
    [callback] = rating_engine.queries.list_tasks(case_no=loop)
    assert callback["candidate_groups"] == ["center"]


def test_an_unfounded_poor_rating_is_closed_by_the_center_with_the_reason(rating_engine: Any,
                                                                         clean_db: str) -> None:
    case_no = closed_case(rating_engine)
    loop = rating_engine.ratings.rate_online(case_no, CODE, "dissatisfied")["rectification_case_no"]
    rating_engine.complete_task(open_task(rating_engine, loop, "feedback_callback"), "mz1",
                                {"callback_result": "reached", "callback_note": "不满意不予救助"})
    rating_engine.complete_task(open_task(rating_engine, loop, "feedback_verify"), "mz1",
                                {"finding": "unfounded", "facts": "依政策办理"})
    rating_engine.complete_task(open_task(rating_engine, loop, "feedback_unfounded"), "center1",
                                {"decision": "confirm", "reason": "政策规定"})
    assert rating_engine.queries.show_case(loop)["status"] == "closed_completed"
    assert history(rating_engine, case_no)[-1] == "feedback_closed"
    with pytest.raises(TaskConflict):
        rating_engine.ratings.rate_online(case_no, CODE, "satisfied")  # no 追评 after a closed 差评


def test_overdue_callback_gets_supervision(rating_engine: Any, clean_db: str) -> None:
    """回访 not done in 1 working day: the center gets 回访督办 (the callback task stays open)."""
    case_no = closed_case(rating_engine)
    loop = rating_engine.ratings.rate_online(case_no, CODE, "dissatisfied")["rectification_case_no"]
    tick(rating_engine, clock.now() + timedelta(days=5))
    forms = sorted(t["form_key"] for t in rating_engine.queries.list_tasks(case_no=loop))
    assert forms == ["feedback_callback", "supervision"]


def test_a_window_visit_is_rated_once_and_a_poor_one_goes_to_the_window(rating_engine: Any,
                                                                       clean_db: str) -> None:
    clerk = rating_engine.accounts.principal_named("clerk_v")
    visit = rating_engine.consultations.register(clerk, {"name": "王五", "question": "低保怎么申请",
                                                         "region": {"township": "T01", "village": "T01V01"}})
    done = rating_engine.ratings.rate_visit(visit, "dissatisfied", ["attitude"], actor="device:1")
    [callback] = rating_engine.queries.list_tasks(case_no=done["rectification_case_no"])
    assert callback["candidate_groups"] == ["T01V01"]
    with pytest.raises(TaskConflict, match="本次服务已评价"):
        rating_engine.ratings.rate_visit(visit, "satisfied")
    with tx(clean_db) as session:
        rating = session.scalars(select(Rating)).one()
        assert session.get(Consultation, visit) is not None
    assert (rating.consultation_id, rating.org_code, rating.clerk) == (visit, "T01V01", "clerk_v")


def test_the_closing_sms_links_the_rating_page_when_the_portal_address_is_set(clean_db: str) -> None:
    """With RELIEF_PORTAL_URL the 办结 SMS ends with the rating page's link for the case; without, no link."""
    from tests.support.db import engine_for

    engine = engine_for(clean_db, deploy=True, county=True, PORTAL_URL="https://jz.example.gov.cn/")
    case_no = closed_case(engine)
    with tx(clean_db) as session:
        done = session.scalars(select(Notification).where(Notification.case_no == case_no,
                                                          Notification.kind == "completed")).one()
    assert done.content.endswith(f"评价：https://jz.example.gov.cn/portal/rate?case={case_no}")
    plain = closed_case(engine_for(clean_db))
    with tx(clean_db) as session:
        other = session.scalars(select(Notification).where(Notification.case_no == plain,
                                                           Notification.kind == "completed")).one()
    assert "/portal/rate" not in other.content
