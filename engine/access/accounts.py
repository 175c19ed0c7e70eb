"""Users, roles, API tokens, sign-in checks and the demo county (R-6.1.4, R-6.4.3); the organisations
themselves are `engine.access.orgs`, who is acting `engine.access.principals`.

Passwords are hashed with werkzeug's scrypt; API tokens are random and stored as SHA-256;
repeated sign-in failures lock the account for a while. Every sign-in outcome, token and
demo-data load is written to the audit log (`audit`, re-exported here for its callers, is
`engine.audit.chain.audit`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine import clock, db
from engine.access import scoping
from engine.access.orgs import (
    ORG_KINDS,
    get_organisation,
    list_organisations,
    organisation_page,
    record_of,
    set_window,
    upsert_organisation,
)
from engine.access.principals import Principal, principal_of
from engine.audit.chain import audit
from engine.errors import EngineError, InvalidData, NotFound
from engine.models import ApiToken, Organisation, User, UserRole
from engine.paging import DEFAULT_PER_PAGE, Page
from engine.settings import Settings

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_TOUCH_EVERY = timedelta(minutes=1)  # how stale an API token's last_used_at may be
MIN_PASSWORD_LENGTH = 8
DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo_county.yaml"


def _password_errors(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if password.isdigit() or password.isalpha():
        problems.append("密码须同时包含字母和数字")
    return problems


def create_user(session: Session, settings: Settings, username: str, password: str, org_code: str,
                roles: list[str], at: datetime, display_name: str | None = None, can_unmask: bool = False,
                is_supervisor: bool = False) -> User:
    """Create a user with hashed password (`Settings.password_hash_method`); refuse unknown organisations
    and roles."""
    errors: dict[str, list[str]] = {}
    if not username or not username.replace("_", "").replace(".", "").isalnum():
        errors["username"] = ["用户名只能包含字母、数字、下划线和点"]
    elif session.scalar(select(User).where(User.username == username)) is not None:
        errors["username"] = [f"用户名 {username} 已存在"]
    if session.get(Organisation, org_code) is None:
        errors["org"] = [f"未知机构代码：{org_code}"]
    unknown = [r for r in roles if r not in settings.reference.roles()]
    if not roles or unknown:
        errors["role"] = [f"未知角色：{'、'.join(unknown)}" if unknown else "至少指定一个角色"]
    if _password_errors(password):
        errors["password"] = _password_errors(password)
    if errors:
        raise InvalidData("无法创建用户", errors)
    user = User(username=username, display_name=display_name or username, org_code=org_code,
                password_hash=generate_password_hash(password, method=settings.password_hash_method),
                can_unmask=can_unmask, is_supervisor=is_supervisor, created_at=at, failed_logins=0, active=True,
                roles=[UserRole(role=r) for r in dict.fromkeys(roles)])
    session.add(user)
    session.flush()
    audit(session, "system", "user_created", at, username, org=org_code, roles=roles)
    return user


def authenticate(session: Session, username: str, password: str, at: datetime) -> tuple[User | None, str | None]:
    """Check a username and password; return (user, None) or (None, reason).

    Failures are counted (and the account locked after MAX_FAILED_LOGINS) in the caller's
    transaction, so the caller must commit even when sign-in is refused.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        audit(session, username or "?", "login_failed", at, reason="unknown_or_disabled")
        return None, "用户名或密码错误"
    if user.locked_until is not None and user.locked_until > at:
        audit(session, username, "login_refused_locked", at)
        minutes = max(1, int((user.locked_until - at).total_seconds() // 60) + 1)
        return None, f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试"
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = at + LOCKOUT, 0
            audit(session, username, "account_locked", at)
            return None, f"登录失败次数过多，账户已锁定 {int(LOCKOUT.total_seconds() // 60)} 分钟"
        audit(session, username, "login_failed", at, reason="password")
        return None, "用户名或密码错误"
    user.failed_logins, user.locked_until = 0, None
    audit(session, username, "login", at)
    return user, None


def token_hash(token: str) -> str:
    """What is kept of a token (an API token, a window tablet's): its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, at: datetime) -> str:
    """Issue an API token for a user; only its hash is kept."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    token = "rlf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=at))
    audit(session, username, "token_created", at)
    return token


def revoke_tokens(session: Session, username: str, at: datetime) -> int:
    """Revoke every live token of a user; return how many."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    count = 0
    for token in tokens:
        token.revoked_at, count = at, count + 1
    audit(session, username, "tokens_revoked", at, count=count)
    return count


def user_for_token(session: Session, token: str, at: datetime) -> tuple[User | None, int | None]:
    """The active user owning a live token, and the token's id when its last use is to be written now
    (at most once per TOKEN_TOUCH_EVERY: authenticating a request writes nothing otherwise)."""
    row = session.execute(select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at).where(
        ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))).first()
    if row is None:
        return None, None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None, None
    stale = row.last_used_at is None or at - row.last_used_at >= TOKEN_TOUCH_EVERY
    return user, row.id if stale else None


def touch_token(session: Session, token_id: int, at: datetime) -> None:
    """Record a token's use at `at` (unless a concurrent request just did)."""
    session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= at - TOKEN_TOUCH_EVERY))
        .values(last_used_at=at))


def load_demo_data(session: Session, settings: Settings, at: datetime, path: Path = DEMO_FILE) -> dict[str, int]:
    """Load the demo county's organisations and users (idempotent); refused in production."""
    if settings.production:
        raise EngineError("生产环境（RELIEF_ENV=production）不允许加载演示数据")
    demo = yaml.safe_load(path.read_text(encoding="utf-8"))
    for org in demo["organisations"]:
        upsert_organisation(session, org["code"], org["name"], org["kind"], org.get("parent"), org.get("window"))
    created = 0
    for entry in demo["users"]:
        if session.scalar(select(User).where(User.username == entry["username"])) is None:
            create_user(session, settings, entry["username"], demo["password"], entry["org"], entry["roles"], at,
                        entry["name"], entry.get("unmask", False), entry.get("supervisor", False))
            created += 1
    audit(session, "system", "demo_data_loaded", at, users=created)
    return {"organisations": len(demo["organisations"]), "users_created": created}


class Accounts:
    """Sign-in, principals, users, tokens and demo data (`CaseEngine.accounts`); each call one transaction."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory):
        self.settings, self.sessions = settings, sessions

    def sign_in(self, username: str, password: str) -> tuple[Principal | None, str | None]:
        """Check a username and password: (principal, None) or (None, the reason); failures are counted."""
        with db.transaction(self.sessions) as session:  # commits the failure count too
            user, error = authenticate(session, username, password, clock.now())
            return (principal_of(session, user) if user else None), error

    def principal(self, user_id: int) -> Principal | None:
        """The principal of an active user by id (a disabled account is signed out at once)."""
        with db.transaction(self.sessions, read_only=True) as session:
            user = session.get(User, user_id)
            return principal_of(session, user) if user is not None and user.active else None

    def principal_named(self, username: str) -> Principal | None:
        """The principal of an active user by username (operator tools, tests)."""
        with db.transaction(self.sessions, read_only=True) as session:
            user = session.scalar(select(User).where(User.username == username))
            return principal_of(session, user) if user is not None and user.active else None

    def principal_for_token(self, token: str) -> Principal | None:
        """The principal owning a live API token, or None; read without a write (the token's last use is
        recorded at most once a minute, in a transaction of its own)."""
        now = clock.now()
        with db.transaction(self.sessions, read_only=True) as session:
            user, touch = user_for_token(session, token, now)
            found = principal_of(session, user) if user else None
        if touch is not None:
            with db.transaction(self.sessions) as session:
                touch_token(session, touch, now)
        return found

    def create_user(self, username: str, password: str, org_code: str, roles: list[str],
                    display_name: str | None = None, can_unmask: bool = False, is_supervisor: bool = False) -> str:
        """Create a user (see `create_user`); return the username."""
        with db.transaction(self.sessions) as session:
            return create_user(session, self.settings, username, password, org_code, roles, clock.now(),
                               display_name, can_unmask, is_supervisor).username

    def create_token(self, username: str) -> str:
        """Issue an API token for a user (shown once; only its hash is kept)."""
        with db.transaction(self.sessions) as session:
            return create_token(session, username, clock.now())

    def revoke_tokens(self, username: str) -> int:
        """Revoke every live token of a user; return how many."""
        with db.transaction(self.sessions) as session:
            return revoke_tokens(session, username, clock.now())

    def load_demo_data(self) -> dict[str, int]:
        """Load the demo county (refused in production)."""
        with db.transaction(self.sessions) as session:
            return load_demo_data(session, self.settings, clock.now())

    def organisations(self) -> list[dict[str, Any]]:
        """Every organisation as {code, name, kind, parent, address, hours, phone}, parents first."""
        with db.transaction(self.sessions) as session:
            return list_organisations(session)

    def organisation_page(self, principal: Principal, page: int = 1, kind: str = "",
                          per_page: int = DEFAULT_PER_PAGE) -> Page[dict[str, Any]]:
        """机构与窗口 for administrators: one page of the organisations (of one kind) with their windows."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions, read_only=True) as session:
            return organisation_page(session.connection(), page, per_page, kind if kind in ORG_KINDS else "")

    def organisation(self, principal: Principal, code: str) -> dict[str, Any]:
        """One organisation with its window details, for its edit form (administrators)."""
        scoping.require(principal, "org_edit")
        with db.transaction(self.sessions, read_only=True) as session:
            return record_of(get_organisation(session, code))

    def set_window(self, principal: Principal, code: str, details: Mapping[str, Any]) -> dict[str, Any]:
        """Change the window details given (administrators) → {"organisation", "changed": {field: [old, new]}};
        each change is audited (org_window_changed). Bad input raises InvalidData and changes nothing."""
        scoping.require(principal, "org_edit")
        now = clock.now()
        with db.transaction(self.sessions) as session:
            org = get_organisation(session, code)
            changes = set_window(org, details)
            if changes:
                audit(session, principal.username, "org_window_changed", now, code, changes=changes)
            return {"organisation": record_of(org), "changed": changes}
