"""意见簿 (the comment book, R-6.3.6): suggestions written on the portal, or on paper in the hall and typed in
by a clerk; the center reads them (answered or not) and answers; an answer marked public is shown on the
portal with its suggestion. The contact a writer leaves is for the center alone: masked on the center's
list and never read for the portal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from engine import clock, status
from engine.access import personal_data, scoping
from engine.access.accounts import Principal, audit
from engine.cases import labels
from engine.cases.workflows import Workflows
from engine.errors import InvalidData, NotFound
from engine.paging import Page, paginate
from engine.tables import SUGGESTION

MAX_TEXT, MAX_CONTACT, MAX_ANSWER = 1000, 100, 2000
ANSWERED_FILTERS = ("", "answered", "unanswered")
# What the portal may read of a suggestion: never its contact, nor who typed or answered it.
PUBLIC_COLUMNS = (SUGGESTION.c.id, SUGGESTION.c.text, SUGGESTION.c.created_at, SUGGESTION.c.answer,
                  SUGGESTION.c.answered_at)


def suggestion_errors(text: str, contact: str) -> dict[str, list[str]]:
    """The one check of a suggestion's text and contact; field → Chinese messages."""
    errors: dict[str, list[str]] = {}
    if not text:
        errors["text"] = ["请写下您的意见或建议"]
    elif len(text) > MAX_TEXT:
        errors["text"] = [f"不能超过 {MAX_TEXT} 个字"]
    if len(contact) > MAX_CONTACT:
        errors["contact"] = [f"不能超过 {MAX_CONTACT} 个字"]
    return errors


class Suggestions:
    """The comment book (`CaseEngine.suggestions`)."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    def submit_online(self, text: str, contact: str = "") -> int:
        """A suggestion written on the portal; return its number."""
        return self._store("portal", text, contact, None, None)

    def enter_from_hall(self, principal: Principal, text: str, contact: str = "") -> int:
        """A suggestion written on paper in the hall, typed in by a window clerk; return its number."""
        scoping.require(principal, "suggestion_enter")
        return self._store("hall", text, contact, principal.username, principal.org_code)

    def _store(self, channel: str, text: str, contact: str, by: str | None, org: str | None) -> int:
        text, contact = (text or "").strip(), (contact or "").strip()
        errors = suggestion_errors(text, contact)
        if errors:
            raise InvalidData("意见内容有误", errors)
        now = clock.now()
        with self.workflows.transaction() as session:
            return int(session.connection().execute(SUGGESTION.insert().values(
                channel=channel, text=text, contact=contact or None, entered_by=by, entered_org=org,
                created_at=now, public=False, month=clock.local_text(now, "%Y-%m")).returning(SUGGESTION.c.id))
                .scalar_one())

    # -- the center ------------------------------------------------------------------------

    def listing(self, principal: Principal, answered: str = "", page: int = 1,
                per_page: int = 20) -> Page[dict[str, Any]]:
        """Every suggestion for the center, unanswered first then newest, filtered by `answered` (answered /
        unanswered / all); the contact masked."""
        scoping.require(principal, "suggestions_answer")
        query = select(SUGGESTION)
        if answered == "answered":
            query = query.where(SUGGESTION.c.answered_at.is_not(None))
        elif answered == "unanswered":
            query = query.where(SUGGESTION.c.answered_at.is_(None))
        query = query.order_by(SUGGESTION.c.answered_at.is_not(None), SUGGESTION.c.created_at.desc(),
                               SUGGESTION.c.id.desc())
        with self.workflows.reading() as session:
            found = paginate(session.connection(), query, page, per_page, lambda r: dict(r._mapping))
            people = labels.actor_names(session, {r[k] for r in found.items for k in ("entered_by", "answered_by")})
        for row in found.items:
            row["contact"] = personal_data.mask_contact(row["contact"]) if row["contact"] else ""
            row["channel_label"] = status.SUGGESTION_CHANNELS.get(row["channel"], row["channel"])
            row["entered_by_name"] = people.get(row["entered_by"] or "", "")
            row["answered_by_name"] = people.get(row["answered_by"] or "", "")
        return found

    def answer(self, principal: Principal, suggestion_id: int, answer: str, public: bool = False) -> None:
        """Answer a suggestion (again, to correct it), and say whether the portal shows both; audited."""
        scoping.require(principal, "suggestions_answer")
        answer = (answer or "").strip()
        if not answer:
            raise InvalidData("请填写答复", {"answer": ["请填写答复内容"]})
        if len(answer) > MAX_ANSWER:
            raise InvalidData("答复过长", {"answer": [f"不能超过 {MAX_ANSWER} 个字"]})
        now = clock.now()
        with self.workflows.transaction() as session:
            changed = session.connection().execute(update(SUGGESTION).where(SUGGESTION.c.id == suggestion_id).values(
                answer=answer, answered_by=principal.username, answered_at=now, public=bool(public))).rowcount
            if not changed:
                raise NotFound(f"意见不存在：{suggestion_id}")
            audit(session, principal.username, "suggestion_answered", now, str(suggestion_id), public=bool(public))

    # -- the portal ------------------------------------------------------------------------

    def public_listing(self, page: int = 1, per_page: int = 20) -> Page[dict[str, Any]]:
        """The answered suggestions marked public, newest answer first: text, answer and their dates only."""
        query = (select(*PUBLIC_COLUMNS).where(SUGGESTION.c.public.is_(True), SUGGESTION.c.answered_at.is_not(None))
                 .order_by(SUGGESTION.c.answered_at.desc(), SUGGESTION.c.id.desc()))
        with self.workflows.reading() as session:
            return paginate(session.connection(), query, page, per_page, lambda r: dict(r._mapping))
