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
from zxcvbn import zxcvbn

from engine import clock, db
from engine.access import scoping
from engine.access.orgs import (
    get_organisation,
    list_organisations,
    record_of,
    set_window,
    upsert_organisation,
)
from engine.access.principals import Principal, principal_of
from engine.audit.chain import audit
from engine.errors import EngineError, InvalidData, NotFound
from engine.models import ApiToken, Organisation, User, UserRole
from engine.settings import Settings

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_TOUCH_EVERY = timedelta(minutes=1)  # how stale an API token's last_used_at may be
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
ESTIMATE_LENGTH = 72  # zxcvbn's own maximum
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0–4: 3 is "safely unguessable" against an online attack
TEMP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo_county.yaml"


def password_problems(password: str, username: str = "", name: str = "") -> list[str]:
    """The password policy (R-6.4.3), the one check of every new password: at least MIN_PASSWORD_LENGTH
    characters, neither the username nor the name inside it, and hard to guess — zxcvbn's estimate at
    least MIN_PASSWORD_SCORE of 4 (it knows common passwords, words, keyboard runs, dates and repeats).
    Returns the problems in Chinese; [] when the password is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少 {MIN_PASSWORD_LENGTH} 位（现有 {len(password)} 位）")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"密码不能超过 {MAX_PASSWORD_LENGTH} 位")
    lowered = password.casefold()
    for label, word in (("用户名", username), ("姓名", name)):
        if len(word.strip()) >= 2 and word.strip().casefold() in lowered:
            problems.append(f"密码不能包含{label}")
    # zxcvbn refuses what is longer than its limit (and takes longer the longer it is): its first part is judged
    judged = password[:ESTIMATE_LENGTH]
    if not problems and zxcvbn(judged, user_inputs=[w for w in (username, name) if w])["score"] < MIN_PASSWORD_SCORE:
        problems.append("密码太容易被猜中：请用更长、不常见的词和字符组合，避免常用密码、键盘顺序、重复字符、年份和日期")
    return problems


def temporary_password() -> str:
    """A random password that the policy accepts (for a reset or an import: shown once, changed at sign-in)."""
    while True:
        found = "-".join("".join(secrets.choice(TEMP_ALPHABET) for _ in range(4)) for _ in range(4))
        if not password_problems(found):
            return found


def user_errors(session: Session, settings: Settings, username: str, org_code: str, roles: list[str],
                password: str | None, display_name: str = "") -> dict[str, list[str]]:
    """Each field's problems for a new user (the one check: the page, the CLI, an import row, the demo
    county); `password` None skips the policy (the demo county's shared password, generated ones)."""
    errors: dict[str, list[str]] = {}
    if not username or len(username) > 100 or not username.replace("_", "").replace(".", "").isalnum():
        errors["username"] = ["用户名只能包含字母、数字、下划线和点（不超过 100 个字符）"]
    elif session.scalar(select(User).where(User.username == username)) is not None:
        errors["username"] = [f"用户名 {username} 已存在"]
    errors.update(assignment_errors(session, settings, org_code, roles))
    if password is not None and (problems := password_problems(password, username, display_name)):
        errors["password"] = problems
    return errors


def assignment_errors(session: Session, settings: Settings, org_code: str, roles: list[str],
                      allow_inactive: bool = False) -> dict[str, list[str]]:
    """Problems with a user's organisation (unknown, or 停用 unless `allow_inactive`) and roles (none or
    unknown)."""
    errors: dict[str, list[str]] = {}
    org = session.get(Organisation, org_code)
    if org is None:
        errors["org"] = [f"未知机构代码：{org_code}"]
    elif not org.active and not allow_inactive:
        errors["org"] = [f"{org.name}已停用，不能再添加或调入用户"]
    unknown = [r for r in roles if r not in settings.reference.roles()]
    if not roles or unknown:
        errors["role"] = [f"未知角色：{'、'.join(unknown)}" if unknown else "至少指定一个角色"]
    return errors


def create_user(session: Session, settings: Settings, username: str, password: str, org_code: str,
                roles: list[str], at: datetime, display_name: str | None = None, can_unmask: bool = False,
                is_supervisor: bool = False, by: str = "system", enforce_policy: bool = True,
                must_change_password: bool = False) -> User:
    """Create a user with hashed password (`Settings.password_hash_method`); refuse unknown organisations
    and roles, and a password the policy refuses (`enforce_policy=False`: the demo county only)."""
    errors = user_errors(session, settings, username, org_code, roles, password if enforce_policy else None,
                         display_name or "")
    if errors:
        raise InvalidData("无法创建用户", errors)
    user = User(username=username, display_name=display_name or username, org_code=org_code,
                password_hash=generate_password_hash(password, method=settings.password_hash_method),
                can_unmask=can_unmask, is_supervisor=is_supervisor, created_at=at, failed_logins=0, active=True,
                must_change_password=must_change_password, roles=[UserRole(role=r) for r in dict.fromkeys(roles)])
    session.add(user)
    session.flush()
    audit(session, by, "user_created", at, username, org=org_code, roles=roles, supervisor=is_supervisor,
          unmask=can_unmask)
    return user


def change_password(session: Session, settings: Settings, user: User, current: str, new: str, repeat: str,
                    at: datetime) -> None:
    """A user changes their own password: the current one, and a new one twice that the policy accepts and
    that differs from the current one."""
    errors: dict[str, list[str]] = {}
    if not check_password_hash(user.password_hash, current):
        errors["current"] = ["当前密码不正确"]
    problems = password_problems(new, user.username, user.display_name)
    if problems:
        errors["new"] = problems
    elif new != repeat:
        errors["repeat"] = ["两次输入的新密码不一致"]
    elif new == current:
        errors["new"] = ["新密码不能与当前密码相同"]
    if errors:
        raise InvalidData("密码未修改", errors)
    user.password_hash = generate_password_hash(new, method=settings.password_hash_method)
    forced, user.must_change_password = user.must_change_password, False
    audit(session, user.username, "password_changed", at, user.username, forced=forced)


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
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, at
    audit(session, username, "login", at)
    return user, None


def token_hash(token: str) -> str:
    """What is kept of a token (an API token, a window tablet's): its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, at: datetime, name: str = "", expires_at: datetime | None = None,
                 by: str | None = None) -> str:
    """Issue an API token for a user (named, expiring when given); only its hash is kept."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在")
    token = "rlf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=at, name=name,
                         created_by=by or username, expires_at=expires_at))
    audit(session, by or username, "token_created", at, username, name=name,
          expires=expires_at.isoformat() if expires_at else None)
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
        ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > at))).first()
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
            # The demo county's shared password is below the policy: demo data only, never in production.
            create_user(session, settings, entry["username"], demo["password"], entry["org"], entry["roles"], at,
                        entry["name"], entry.get("unmask", False), entry.get("supervisor", False),
                        enforce_policy=False)
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

    def change_password(self, principal: Principal, current: str, new: str, repeat: str) -> None:
        """修改密码: the user's own, with the current one (see `change_password`)."""
        with db.transaction(self.sessions) as session:
            change_password(session, self.settings, session.get_one(User, principal.user_id), current, new, repeat,
                            clock.now())

    def signed_out_idle(self, username: str) -> None:
        """Record that a session idle past the timeout was signed out (session_expired)."""
        with db.transaction(self.sessions) as session:
            audit(session, username, "session_expired", clock.now())

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
