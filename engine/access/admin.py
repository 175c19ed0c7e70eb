"""系统管理 (R-6.1.4): what the administrators' pages and `relief user` do with organisations, users and API
tokens (`CaseEngine.administration`). Each call checks the principal's permission (`scoping`), is one
transaction, and audits every change old → new.

Organisations are never deleted: one that is no longer needed is deactivated (停用). A deactivated
organisation takes no new cases (its township or village is not offered to applicants, intake refuses it,
its window leaves 办事大厅 and its clerks register nothing), no user is created in or moved into it, and its
users take no new work (they cannot claim or be assigned tasks); they can still sign in and finish the
tasks they hold. Its parent is deactivated only after it, and it is reactivated only under an active parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine import clock, db
from engine.access import scoping
from engine.access.accounts import create_token, create_user, temporary_password
from engine.access.orgs import (
    ORG_KINDS,
    create_organisation,
    edit_organisation,
    get_organisation,
    matter_choices,
    organisation_page,
    parent_choices,
    record_of,
    set_org_active,
    window_matters,
)
from engine.access.principals import Principal
from engine.access.tokens import revoke_token, token_page
from engine.access.user_import import import_users
from engine.access.users import (
    get_user,
    reset_password,
    set_user_active,
    update_user,
    user_count,
    user_page,
    user_record,
)
from engine.audit.chain import audit
from engine.errors import InvalidData
from engine.paging import DEFAULT_PER_PAGE, Page
from engine.settings import Settings

INTEGRATION_ROLE = "integration"


class Administration:
    """Organisations, users and API tokens for administrators."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings, self.sessions = settings, sessions

    # -- organisations ------------------------------------------------------------------------

    def organisations(self, principal: Principal, page: int = 1, kind: str = "", parent: str = "", status: str = "",
                      per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
        """机构管理: one page of the organisations with their windows and matters, filtered."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions, read_only=True) as session:
            return organisation_page(session.connection(), page, per_page, kind if kind in ORG_KINDS else "",
                                     parent, status)

    def org_form(self, principal: Principal, code: str | None = None) -> dict[str, Any]:
        """What the organisation form needs: the organisation (None for a new one) with its matters and user
        count, the possible parents and the catalog's matters."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions, read_only=True) as session:
            conn = session.connection()
            org = None
            if code is not None:
                org = record_of(get_organisation(session, code))
                org["matters"] = [m["code"] for m in window_matters(conn, [code]).get(code, [])]
                org["users"] = user_count(conn, code)
            return {"org": org, "parents": parent_choices(conn), "matters": matter_choices(conn)}

    def create_organisation(self, principal: Principal, fields: Mapping[str, Any]) -> dict[str, Any]:
        """New organisation (see `orgs.create_organisation`); audited org_created."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions) as session:
            org = create_organisation(session, fields)
            audit(session, principal.username, "org_created", clock.now(), org.code, kind=org.kind,
                  parent=org.parent_code, name=org.name, matters=sorted(fields.get("matters") or []))
            return record_of(org)

    def edit_organisation(self, principal: Principal, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Edit an organisation → {"organisation", "changed": {field: [old, new]}}; audited org_changed."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions) as session:
            org = get_organisation(session, code)
            changes = edit_organisation(session, org, fields)
            if changes:
                audit(session, principal.username, "org_changed", clock.now(), code, changes=changes)
            return {"organisation": record_of(org), "changed": changes}

    def set_organisation_active(self, principal: Principal, code: str, active: bool) -> bool:
        """停用 / 启用 an organisation (see the module's rules); False when it already was so."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions) as session:
            changed = set_org_active(session, get_organisation(session, code), active)
            if changed:
                audit(session, principal.username, "org_reactivated" if active else "org_deactivated", clock.now(),
                      code, changes={"active": [not active, active]})
            return changed

    # -- users ------------------------------------------------------------------------------

    def users(self, principal: Principal, page: int = 1, search: str = "", org: str = "", role: str = "",
              status: str = "", per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
        """用户管理: one page of the users, searched and filtered."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions, read_only=True) as session:
            return user_page(session.connection(), page, per_page, search, org, role, status)

    def user(self, principal: Principal, username: str) -> dict[str, Any]:
        """One user for the edit form."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions, read_only=True) as session:
            return user_record(get_user(session, username))

    def create_user(self, principal: Principal, fields: Mapping[str, Any]) -> dict[str, Any]:
        """New user with a temporary password (the one typed, else generated) to change at the first sign-in
        → {username, password} (the password shown once)."""
        scoping.require(principal, "users_admin")
        password = str(fields.get("password") or "") or temporary_password()
        with db.transaction(self.sessions) as session:
            user = create_user(session, self.settings, str(fields.get("username") or "").strip(), password,
                               str(fields.get("org_code") or ""), list(fields.get("roles") or []), clock.now(),
                               str(fields.get("display_name") or "").strip() or None, bool(fields.get("can_unmask")),
                               bool(fields.get("is_supervisor")), by=principal.username,
                               must_change_password=INTEGRATION_ROLE not in (fields.get("roles") or []))
            return {"username": user.username, "password": password}

    def edit_user(self, principal: Principal, username: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Change a user's name, organisation, roles and permissions → {field: [old, new]}; audited
        user_changed."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions) as session:
            user = get_user(session, username)
            if user.username == principal.username and "admin" not in (fields.get("roles") or ["admin"]):
                raise InvalidData("不能去掉自己的系统管理员角色", {"role": ["不能去掉自己的系统管理员角色"]})
            changes = update_user(session, self.settings, user, fields)
            if changes:
                audit(session, principal.username, "user_changed", clock.now(), username, changes=changes)
            return changes

    def set_user_active(self, principal: Principal, username: str, active: bool) -> bool:
        """停用 / 启用 a user: a disabled one cannot sign in, and their sessions and tokens stop at once."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions) as session:
            return set_user_active(session, get_user(session, username), active, principal.username, clock.now())

    def reset_password(self, principal: Principal, username: str, password: str | None = None) -> str:
        """A temporary password (typed or generated) to change at the next sign-in; returned to show once."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions) as session:
            return reset_password(session, self.settings, get_user(session, username), principal.username,
                                  clock.now(), password)

    def import_users(self, principal: Principal, filename: str, data: bytes) -> list[dict[str, str]]:
        """批量导入: all rows or none (see `user_import`); each user with their temporary password."""
        scoping.require(principal, "users_admin")
        with db.transaction(self.sessions) as session:
            return import_users(session, self.settings, filename, data, principal.username, clock.now())

    # -- API tokens ---------------------------------------------------------------------------

    def tokens(self, principal: Principal, page: int = 1, owner: str = "",
               per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
        """接口令牌: one page of the tokens, newest first."""
        scoping.require(principal, "tokens_admin")
        with db.transaction(self.sessions, read_only=True) as session:
            return token_page(session.connection(), page, per_page, clock.now(), owner)

    def create_token(self, principal: Principal, owner: str, name: str, expires_at: datetime | None) -> str:
        """Issue a named token for `owner` (expiring when given); returned to show once."""
        scoping.require(principal, "tokens_admin")
        errors: dict[str, list[str]] = {}
        if not name.strip() or len(name.strip()) > 100:
            errors["name"] = ["请填写令牌名称（不超过 100 个字），如 12345 平台对接"]
        if expires_at is not None and expires_at <= clock.now():
            errors["expires_at"] = ["到期时间应晚于现在"]
        if errors:
            raise InvalidData("无法签发接口令牌", errors)
        with db.transaction(self.sessions) as session:
            user = get_user(session, owner)
            if not user.active:
                raise InvalidData("无法签发接口令牌", {"owner": [f"用户 {owner} 已停用"]})
            return create_token(session, owner, clock.now(), name.strip(), expires_at, by=principal.username)

    def revoke_token(self, principal: Principal, token_id: int) -> dict[str, Any]:
        """Revoke one token (see `tokens.revoke_token`)."""
        scoping.require(principal, "tokens_admin")
        with db.transaction(self.sessions) as session:
            return revoke_token(session, token_id, principal.username, clock.now())
