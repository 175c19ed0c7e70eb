"""Who is acting (`Principal`): a user with their organisation and roles, the facts scoping decides on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Organisation, User
from engine.status import USER_GROUP

GROUP_ORG_KINDS = ("department", "township", "village")


@dataclass(frozen=True)
class Principal:
    """Who is acting: the user, their organisation and roles — what scoping is decided on."""

    user_id: int
    username: str
    display_name: str
    org_code: str
    org_kind: str
    org_parent: str | None
    roles: frozenset[str]
    can_unmask: bool = False
    is_supervisor: bool = False
    covers: frozenset[str] = frozenset()  # a township's villages: their field work is the township's too
    org_name: str = ""
    must_change_password: bool = False  # after a reset: nothing but the change-password page until changed
    org_active: bool = True  # False: the organisation is 停用 (no new cases at its window, no new work)

    @property
    def groups(self) -> frozenset[str]:
        """Candidate groups this user belongs to: their roles, their organisation when it is one that
        BPMN names as a group (a department, township or village), and a township's villages. The
        center's and the joint office's work is addressed to roles, so their clerks are not candidates.
        A BPMN's camunda:candidateUsers name users: each is the group `user:<username>`."""
        own = {self.org_code} if self.org_kind in GROUP_ORG_KINDS else set()
        return self.roles | own | self.covers | {f"{USER_GROUP}{self.username}"}

    def has(self, *roles: str) -> bool:
        """True when the user holds any of `roles`."""
        return bool(self.roles.intersection(roles))


def covered_orgs(session: Session, org: Organisation) -> frozenset[str]:
    """The organisations whose group work a member of `org` also covers: a township's villages."""
    if org.kind != "township":
        return frozenset()
    return frozenset(session.scalars(select(Organisation.code).where(
        Organisation.parent_code == org.code, Organisation.kind == "village")))


def principal_of(session: Session, user: User) -> Principal:
    """Build the Principal of a user row."""
    org = session.get_one(Organisation, user.org_code)
    return Principal(user.id, user.username, user.display_name, org.code, org.kind, org.parent_code,
                     frozenset(r.role for r in user.roles), user.can_unmask, user.is_supervisor,
                     covered_orgs(session, org), org.name, user.must_change_password, org.active)
