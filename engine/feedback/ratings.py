"""好差评 (R-6.3.6; the national 政务服务"好差评" practice): one rating per case and one per window visit.

A rating has one of five levels (data/rating_levels.yaml), the indicator tags of its channel
(data/rating_tags.yaml: 网上 portal, 现场 window, 12345 回访 hotline) and an optional comment. It
is given after the case has ended (办结 or 不予受理), or after a window visit (a consultation).
It is attached to the case, its matters and the departments that handled it (rating_subject), and
to the window and clerk who registered it, which is what the statistics group by.

A 差评 (不满意, 非常不满意) starts the process `feedback_rectification` in the same transaction:
回访, 核实, 整改 by the responsible organisation, the result told to the applicant, who may then
rate once more (追评, delivered to the waiting process as the message `follow_up_rating`). The
responsible organisation: the one department that handled the case; the center when several
did or none did; for a window visit, the window's organisation. Every step is noted in the rated
case's history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock, status, tables
from engine.access import scoping
from engine.access.accounts import Principal
from engine.access.principals import GROUP_ORG_KINDS
from engine.bpmn.messages import deliver, waiting_for
from engine.cases import store
from engine.cases.progress import code_matches
from engine.cases.tasks import record
from engine.dashboard import facts
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.feedback.statistics import DIMENSIONS, rating_statistics
from engine.reference import ReferenceData
from engine.tables import APPLICATION, RATING, RATING_SUBJECT, TASK

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

RECTIFICATION_PROCESS = "feedback_rectification"
FOLLOW_UP_RATING = "follow_up_rating"  # the message the rectification waits for (追评)
CENTER_GROUP = "center"
MAX_COMMENT = 500
RATEABLE = status.END_STATUSES  # a case is rated once it has ended
WRONG_CODE = "案件编号或查询码不正确"
MONTH = re.compile(r"20\d\d-(0[1-9]|1[0-2])")


def rating_errors(reference: ReferenceData, channel: str, level: str, tags: Sequence[str],
                  comment: str) -> dict[str, list[str]]:
    """The one check of a rating's level, tags and comment; field → Chinese messages."""
    errors: dict[str, list[str]] = {}
    if channel not in status.RATING_CHANNELS:
        errors["channel"] = [f"评价渠道无效：{channel}"]
    if level not in reference.rating_levels():
        errors["level"] = ["请选择评价等级"]
    offered = channel_tags(reference, channel)
    unknown = [t for t in tags if t not in offered]
    if unknown:
        errors["tags"] = [f"本渠道没有这些评价指标：{'、'.join(unknown)}"]
    if len(comment) > MAX_COMMENT:
        errors["comment"] = [f"评语不能超过 {MAX_COMMENT} 个字"]
    return errors


def channel_tags(reference: ReferenceData, channel: str) -> dict[str, dict[str, Any]]:
    """The indicator tags a channel offers, by code, in the file's order."""
    return {code: tag for code, tag in reference.rating_tags().items() if channel in tag.get("channels", [])}


def level_code(reference: ReferenceData, given: str) -> str:
    """A level as typed by an operator: its code or its Chinese or English name (unknown: as given)."""
    for code, level in reference.rating_levels().items():
        if given in (code, level["zh"], level["en"]):
            return code
    return given


def tag_codes(reference: ReferenceData, channel: str, given: Sequence[str]) -> list[str]:
    """Tags as typed: codes or names of the channel's tags (unknown ones kept, so the check names them)."""
    offered = channel_tags(reference, channel)
    by_name = {t["zh"]: code for code, t in offered.items()} | {t["en"]: code for code, t in offered.items()}
    return list(dict.fromkeys(by_name.get(g, g) for g in given))


def case_departments(conn: Connection, case_no: str) -> list[str]:
    """The departments that had tasks in the case (受理告知, 办结反馈 …), in the order they first did."""
    rows = conn.execute(select(TASK.c.context).where(TASK.c.case_no == case_no).order_by(TASK.c.created_at))
    return list(dict.fromkeys(d for (context,) in rows if (d := (context or {}).get("department"))))


class Ratings:
    """Giving and reading 好差评 (`CaseEngine.ratings`)."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine
        self.workflows = engine.workflows

    @property
    def reference(self) -> ReferenceData:
        return self.workflows.settings.reference

    def level_code(self, given: str) -> str:
        """A level as typed (code, Chinese or English name) → its code."""
        return level_code(self.reference, given)

    def tag_codes(self, channel: str, given: Sequence[str]) -> list[str]:
        """Tags as typed (codes or names of the channel's tags) → codes."""
        return tag_codes(self.reference, channel, given)

    # -- what a rating form offers ----------------------------------------------------------

    def options(self, channel: str) -> dict[str, Any]:
        """The levels and the channel's tags, for a form: [(code, name)] each."""
        return {"levels": [(c, lv["zh"]) for c, lv in self.reference.rating_levels().items()],
                "tags": [(c, t["zh"]) for c, t in channel_tags(self.reference, channel).items()]}

    # -- giving a rating --------------------------------------------------------------------

    def rate_online(self, case_no: str, query_code: str, level: str, tags: Sequence[str] = (),
                    comment: str = "") -> dict[str, Any]:
        """The applicant's rating on the portal (case number and query code): the case's one rating, or
        its 追评 while its rectification waits for one. NotFound for a wrong number or code."""
        with self.workflows.reading() as session:
            if not code_matches(session.connection(), case_no, query_code):
                raise NotFound(WRONG_CODE)
        return self.rate_case(case_no, "portal", level, tags, comment, actor="applicant")

    def rate_hotline(self, principal: Principal, case_no: str, level: str, tags: Sequence[str] = (),
                     comment: str = "") -> dict[str, Any]:
        """The 12345 回访满意度 of a hotline case, through the REST API by the integration account."""
        scoping.require(principal, "hotline_push")
        with self.workflows.reading() as session:
            if store.hotline_order_of(session.connection(), case_no) is None:
                raise NotFound(f"不是 12345 工单案件：{case_no}")
        return self.rate_case(case_no, "hotline", level, tags, comment, actor=principal.username)

    def rate_case(self, case_no: str, channel: str, level: str, tags: Sequence[str] = (), comment: str = "",
                  actor: str = "applicant") -> dict[str, Any]:
        """Rate an ended case from `channel` (every channel comes through here): refused with the reason
        when the case is open, already rated, or the input is wrong. A 差评 starts its rectification."""
        tags, comment = self._checked(channel, level, tags, comment)
        now = clock.now()
        try:
            with self.workflows.transaction() as session:
                conn = session.connection()
                application = conn.execute(select(APPLICATION.c.matters, APPLICATION.c.registered_org,
                                                  APPLICATION.c.registered_by)
                                           .where(APPLICATION.c.case_no == case_no)).first()
                instance = store.find_instance(conn, case_no)
                if application is None or instance is None:
                    raise NotFound(f"案件不存在：{case_no}")
                if instance.status not in RATEABLE:
                    raise TaskConflict("案件办结后才能评价")
                earlier = conn.execute(select(RATING.c.id, RATING.c.follow_up, RATING.c.rectification_case_no)
                                       .where(RATING.c.case_no == case_no)).all()
                follow_up = self._follow_up(session, earlier)
                departments = case_departments(conn, case_no)
                rating = {**new_rating(channel, level, tags, comment, actor, now), "case_no": case_no,
                          "follow_up": follow_up is not None, "org_code": application.registered_org,
                          "clerk": _clerk(application.registered_by)}
                subjects = [("matter", m) for m in dict.fromkeys(application.matters or [])] + \
                           [("department", d) for d in departments]
                responsible = departments[0] if len(departments) == 1 else CENTER_GROUP
                return self._store(session, rating, subjects, responsible, follow_up, actor, now)
        except IntegrityError as clash:  # the same case rated twice at once: the second one loses
            raise TaskConflict("该案件已评价，每件只能评价一次（整改后可追评一次）") from clash

    def rate_visit(self, consultation_id: int, level: str, tags: Sequence[str] = (), comment: str = "",
                   actor: str = "visitor", channel: str = "window") -> dict[str, Any]:
        """Rate a window visit (a consultation, 现场评价): once; a 差评 goes to the window's organisation."""
        tags, comment = self._checked(channel, level, tags, comment)
        now = clock.now()
        try:
            with self.workflows.transaction() as session:
                conn = session.connection()
                visit = conn.execute(select(tables.CONSULTATION.c.registered_org, tables.CONSULTATION.c.registered_by,
                                            tables.CONSULTATION.c.matters)
                                     .where(tables.CONSULTATION.c.id == consultation_id)).first()
                if visit is None:
                    raise NotFound(f"咨询登记不存在：{consultation_id}")
                if conn.execute(select(RATING.c.id).where(RATING.c.consultation_id == consultation_id)).first():
                    raise TaskConflict("本次服务已评价，每次只能评价一次")
                rating = {**new_rating(channel, level, tags, comment, actor, now), "consultation_id": consultation_id,
                          "org_code": visit.registered_org, "clerk": visit.registered_by}
                subjects = [("matter", m) for m in dict.fromkeys(visit.matters or [])]
                return self._store(session, rating, subjects, window_group(conn, visit.registered_org), None,
                                   actor, now)
        except IntegrityError as clash:
            raise TaskConflict("本次服务已评价，每次只能评价一次") from clash

    def _checked(self, channel: str, level: str, tags: Sequence[str], comment: str) -> tuple[list[str], str]:
        """The tags without repeats and the trimmed comment; InvalidData listing every problem."""
        tags, comment = list(dict.fromkeys(tags)), (comment or "").strip()
        errors = rating_errors(self.reference, channel, level, tags, comment)
        if errors:
            raise InvalidData("评价内容有误", errors)
        return tags, comment

    def _follow_up(self, session: Session, earlier: Sequence[Any]) -> str | None:
        """None for a first rating; the rectification's number when this is its 追评; refused otherwise."""
        if not earlier:
            return None
        first = next((r for r in earlier if not r.follow_up), None)
        if len(earlier) > 1 or first is None or not first.rectification_case_no:
            raise TaskConflict("该案件已评价，每件只能评价一次（整改后可追评一次）")
        instance = store.find_instance(session.connection(), first.rectification_case_no)
        if instance is None or instance.status != status.OPEN or not self._awaits_follow_up(session, instance):
            raise TaskConflict("该案件已评价；差评整改完成并告知结果后才能追评一次")
        return str(first.rectification_case_no)

    def _awaits_follow_up(self, session: Session, instance: store.InstanceState) -> bool:
        loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
        return bool(waiting_for(self.workflows.load(instance, loaded), FOLLOW_UP_RATING))

    def _store(self, session: Session, rating: dict[str, Any], subjects: Sequence[tuple[str, str]],
               responsible: str, follow_up: str | None, actor: str, now: Any) -> dict[str, Any]:
        """Insert the rating and its subjects; start the rectification of a 差评, or deliver a 追评 to it."""
        conn = session.connection()
        rating_id = int(conn.execute(RATING.insert().values(rating).returning(RATING.c.id)).scalar_one())
        store.insert_rows(conn, RATING_SUBJECT, [{"rating_id": rating_id, "kind": k, "code": c} for k, c in subjects])
        level = self.reference.rating_levels()[rating["level"]]
        rectification = None
        if follow_up is not None:
            self._deliver_follow_up(session, follow_up, rating_id, actor, now)
        elif level.get("poor"):
            rectification, _ = self.engine.start_process_in(session, RECTIFICATION_PROCESS, {
                "rating_id": rating_id, "relief_case_no": rating["case_no"], "responsible": responsible,
                "level": rating["level"], "rating_summary": self.summary(rating)}, actor, now)
            conn.execute(RATING.update().where(RATING.c.id == rating_id).values(rectification_case_no=rectification))
        if rating["case_no"]:
            if follow_up is None:
                facts.refresh(conn, [rating["case_no"]])  # the dashboard's 满意度 of the case
            record(session, rating["case_no"], "rated", actor, now, data={
                "rating_id": rating_id, "level": rating["level"], "channel": rating["channel"],
                "follow_up": follow_up is not None, "rectification_case_no": rectification or follow_up})
        return {"rating_id": rating_id, "level": rating["level"], "level_name": level["zh"],
                "follow_up": follow_up is not None, "rectification_case_no": rectification}

    def _deliver_follow_up(self, session: Session, case_no: str, rating_id: int, actor: str, now: Any) -> None:
        found = store.find_instance(session.connection(), case_no)
        if found is None:
            raise NotFound(f"差评整改不存在：{case_no}")
        instance = self.workflows.lock_instance(session, found.id)
        loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
        workflow = self.workflows.load(instance, loaded)
        if not deliver(workflow, FOLLOW_UP_RATING, {"follow_up_rating_id": rating_id}):
            raise TaskConflict("该案件已评价；差评整改完成并告知结果后才能追评一次")
        self.workflows.advance(session, instance, loaded, workflow, actor, now)

    def summary(self, rating: Mapping[str, Any]) -> str:
        """One line for the rectification's tasks: level, tags and the comment."""
        level = self.reference.rating_level_name(rating["level"])
        named = "、".join(self.reference.rating_tag_names(rating.get("tags")))
        text = f"{level}（{status.rating_channel_label(rating['channel'])}）" + (f"；指标：{named}" if named else "")
        return text + (f"；评语：{rating['comment']}" if rating.get("comment") else "")

    # -- reading ----------------------------------------------------------------------------

    def statistics(self, principal: Principal | None, by: str = "month", since: str | None = None,
                   until: str | None = None) -> dict[str, Any]:
        """The 好差评 figures the user may see (None: an operator tool, the county's), per `by`
        (engine.feedback.statistics.DIMENSIONS) over the months since…until (YYYY-MM); InvalidData for an
        unknown dimension or month."""
        if principal is not None:
            scoping.require(principal, "feedback_stats")
        errors = {} if by in DIMENSIONS else {"by": [f"统计维度应为 {'、'.join(DIMENSIONS)} 之一"]}
        for name, month in (("since", since), ("until", until)):
            if month and not MONTH.fullmatch(month):
                errors[name] = ["月份格式应为 2026-12"]
        if errors:
            raise InvalidData("统计条件有误", errors)
        with self.workflows.reading() as session:
            return rating_statistics(session, self.reference, principal, by, since or None, until or None)

    def of_case(self, case_no: str) -> list[dict[str, Any]]:
        """A case's ratings, first rating then 追评, with level names (no personal data)."""
        with self.workflows.reading() as session:
            return ratings_of_case(session.connection(), self.reference, case_no)

    def may_rate(self, case_no: str, query_code: str) -> dict[str, Any]:
        """What the portal's rating page shows for a case: whether it may be rated now (and if as 追评),
        and its ratings so far. NotFound for a wrong number or code."""
        with self.workflows.reading() as session:
            conn = session.connection()
            if not code_matches(conn, case_no, query_code):
                raise NotFound(WRONG_CODE)
            instance = store.find_instance(conn, case_no)
            earlier = conn.execute(select(RATING.c.id, RATING.c.follow_up, RATING.c.rectification_case_no)
                                   .where(RATING.c.case_no == case_no)).all()
            reason, follow_up = "", False
            if instance is None or instance.status not in RATEABLE:
                reason = "案件办结后才能评价"
            else:
                try:
                    follow_up = self._follow_up(session, earlier) is not None
                except TaskConflict as refused:
                    reason = str(refused)
        return {"case_no": case_no, "may_rate": not reason, "follow_up": follow_up, "reason": reason,
                "ratings": self.of_case(case_no)}


def new_rating(channel: str, level: str, tags: list[str], comment: str, actor: str, now: Any) -> dict[str, Any]:
    """A rating row's own fields (what it is about is added by the caller)."""
    return {"case_no": None, "consultation_id": None, "follow_up": False, "channel": channel, "level": level,
            "tags": tags, "comment": comment or None, "rated_by": actor, "created_at": now,
            "month": clock.local_text(now, "%Y-%m")}


def ratings_of_case(conn: Connection, reference: ReferenceData, case_no: str) -> list[dict[str, Any]]:
    """A case's ratings, first rating then 追评, with level and channel names and tag names."""
    rows = conn.execute(select(RATING).where(RATING.c.case_no == case_no)
                        .order_by(RATING.c.follow_up, RATING.c.id)).mappings().all()
    return [{"id": r["id"], "level": r["level"], "level_name": reference.rating_level_name(r["level"]),
             "channel": r["channel"], "channel_label": status.rating_channel_label(r["channel"]),
             "tags": reference.rating_tag_names(r["tags"]), "follow_up": r["follow_up"],
             "comment": r["comment"], "created_at": r["created_at"],
             "rectification_case_no": r["rectification_case_no"]} for r in rows]


def window_group(conn: Connection, org_code: str) -> str:
    """The candidate group of a window's organisation: a township or village is a group of its own
    (`GROUP_ORG_KINDS`, as `Principal.groups` has it); the center's work goes to its role."""
    kind = conn.execute(select(tables.ORGS.c.kind).where(tables.ORGS.c.code == org_code)).scalar_one_or_none()
    return org_code if kind in GROUP_ORG_KINDS else CENTER_GROUP


def _clerk(registered_by: str | None) -> str | None:
    """The clerk who registered a case, or None for the applicant's own online application."""
    return None if registered_by in (None, "applicant", "portal") else registered_by
