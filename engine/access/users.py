"""用户管理 for administrators (R-6.1.4): the list of users, editing one (name, organisation, roles, supervisor
and unmask permissions), disabling and enabling, password resets and every user's own password change.

A disabled user (`active` False, `disabled_at` set) cannot sign in; their open sessions end on the next
request and their API tokens stop, since both load only active users (`Accounts.principal`,
`user_for_token`). A reset sets a temporary password and `must_change_password`: after signing in the
user sees nothing but the change-password page until they have chosen their own. Each change is audited
old → new by the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from engine.access.accounts import assignment_errors, password_problems, temporary_password
from engine.audit.chain import audit
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.models import User, UserRole
from engine.paging import Page, paginate
from engine.settings import Settings
from engine.tables import ORGS, ROLES, USERS

USER_STATUSES = ("active", "disabled", "must_change")


def user_page(conn: Connection, page: int, per_page: int, search: str = "", org: str = "", role: str = "",
              status: str = "") -> Page[dict[str, Any]]:
    """One page of the users by username: a search in username and name, filters by organisation, role and
    status (active / disabled / must_change), each with its organisation's name, roles and last sign-in."""
    query = (select(USERS.c.id, USERS.c.username, USERS.c.display_name, USERS.c.org_code, USERS.c.active,
                    USERS.c.can_unmask, USERS.c.is_supervisor, USERS.c.last_login_at, USERS.c.disabled_at,
                    USERS.c.must_change_password, USERS.c.created_at, ORGS.c.name.label("org_name"))
             .join(ORGS, ORGS.c.code == USERS.c.org_code).order_by(USERS.c.username))
    if search.strip():
        text = search.strip().lower()
        query = query.where(or_(func.lower(USERS.c.username).contains(text, autoescape=True),
                                func.lower(USERS.c.display_name).contains(text, autoescape=True)))
    if org:
        query = query.where(USERS.c.org_code == org)
    if role:
        query = query.where(exists(select(ROLES.c.user_id).where(
            and_(ROLES.c.user_id == USERS.c.id, ROLES.c.role == role))))
    if status == "active":
        query = query.where(USERS.c.active.is_(True))
    elif status == "disabled":
        query = query.where(USERS.c.active.is_(False))
    elif status == "must_change":
        query = query.where(USERS.c.must_change_password.is_(True))
    found = paginate(conn, query, page, per_page, lambda r: dict(r._mapping))
    roles = _roles_of(conn, [u["id"] for u in found.items])
    for item in found.items:
        item["roles"] = roles.get(item["id"], [])
    return found


def _roles_of(conn: Connection, user_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if user_ids:
        for row in conn.execute(select(ROLES.c.user_id, ROLES.c.role).where(ROLES.c.user_id.in_(user_ids))
                                .order_by(ROLES.c.role)):
            found.setdefault(row.user_id, []).append(row.role)
    return found


def user_count(conn: Connection, org_code: str) -> int:
    """How many users an organisation has (active or not)."""
    return int(conn.scalar(select(func.count()).select_from(USERS).where(USERS.c.org_code == org_code)) or 0)


def get_user(session: Session, username: str) -> User:
    """The user `username`; NotFound when there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    return user


def user_record(user: User) -> dict[str, Any]:
    """A user as the edit form shows it."""
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "org_code": user.org_code,
            "roles": sorted(r.role for r in user.roles), "is_supervisor": user.is_supervisor,
            "can_unmask": user.can_unmask, "active": user.active, "disabled_at": user.disabled_at,
            "last_login_at": user.last_login_at, "must_change_password": user.must_change_password,
            "created_at": user.created_at}


def _shown(value: Any) -> Any:
    return sorted(value) if isinstance(value, (list, set, frozenset)) else value


def update_user(session: Session, settings: Settings, user: User, changes: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set a user's name, organisation, roles, supervisor and unmask flags (those given); return what
    changed as {field: [old, new]}. Refuses unknown or deactivated organisations and unknown roles."""
    name = str(changes.get("display_name", user.display_name)).strip()
    org_code = str(changes.get("org_code", user.org_code))
    roles = list(dict.fromkeys(changes.get("roles", [r.role for r in user.roles])))
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["display_name"] = ["请填写姓名（不超过 100 个字）"]
    # staying in an organisation deactivated since is no new assignment; moving into one is refused
    errors.update(assignment_errors(session, settings, org_code, roles, allow_inactive=org_code == user.org_code))
    if errors:
        raise InvalidData(f"无法保存用户 {user.username}", errors)
    before = user_record(user)
    user.display_name, user.org_code = name, org_code
    user.is_supervisor = bool(changes.get("is_supervisor", user.is_supervisor))
    user.can_unmask = bool(changes.get("can_unmask", user.can_unmask))
    if sorted(roles) != before["roles"]:
        user.roles = [UserRole(role=r) for r in roles]
    after = {**user_record(user), "roles": sorted(roles)}
    return {f: [_shown(before[f]), _shown(after[f])] for f in ("display_name", "org_code", "roles", "is_supervisor",
                                                              "can_unmask") if before[f] != after[f]}


def set_user_active(session: Session, user: User, active: bool, by: str, at: datetime) -> bool:
    """Disable (停用) or enable (启用) a user; False when it already was so. One may not disable oneself."""
    if user.active == active:
        return False
    if not active and user.username == by:
        raise TaskConflict("不能停用自己的账号")
    user.active, user.disabled_at = active, (None if active else at)
    if active:
        user.failed_logins, user.locked_until = 0, None
    audit(session, by, "user_enabled" if active else "user_disabled", at, user.username,
          changes={"active": [not active, active]})
    return True


def reset_password(session: Session, settings: Settings, user: User, by: str, at: datetime,
                   password: str | None = None) -> str:
    """Set a temporary password (the one typed, checked by the policy, or a generated one) that must be
    changed at the next sign-in; return it (shown once). Unlocks the account."""
    if password:
        problems = password_problems(password, user.username, user.display_name)
        if problems:
            raise InvalidData("临时密码不符合密码规则", {"password": problems})
    chosen = password or temporary_password()
    user.password_hash = generate_password_hash(chosen, method=settings.password_hash_method)
    user.must_change_password, user.failed_logins, user.locked_until = True, 0, None
    audit(session, by, "password_reset", at, user.username, generated=not password)
    return chosen
