"""接口令牌 for administrators (R-6.1.4): every API token with its name, owner, issue, last use, expiry and
revocation, and revoking one. Tokens are issued by `accounts.create_token` (only the hash is kept); an
expired or revoked token, or one whose owner is disabled, authenticates nothing (`accounts.user_for_token`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from engine.audit.chain import audit
from engine.errors import NotFound
from engine.models import ApiToken, User
from engine.paging import Page, paginate
from engine.tables import TOKENS, USERS


def token_state(row: Any, at: datetime) -> str:
    """revoked 已吊销 / expired 已过期 / disabled 账号已停用 / live 有效."""
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_at"] is not None and row["expires_at"] <= at:
        return "expired"
    return "live" if row["owner_active"] else "disabled"


def token_page(conn: Connection, page: int, per_page: int, at: datetime, owner: str = "") -> Page[dict[str, Any]]:
    """One page of the API tokens, newest first (of one owner when given), each with its state at `at`."""
    query = (select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.created_at, TOKENS.c.created_by, TOKENS.c.expires_at,
                    TOKENS.c.last_used_at, TOKENS.c.revoked_at, USERS.c.username.label("owner"),
                    USERS.c.display_name.label("owner_name"), USERS.c.active.label("owner_active"))
             .join(USERS, USERS.c.id == TOKENS.c.user_id).order_by(TOKENS.c.id.desc()))
    if owner:
        query = query.where(USERS.c.username == owner)
    return paginate(conn, query, page, per_page, lambda r: {**r._mapping, "state": token_state(r._mapping, at)})


def revoke_token(session: Session, token_id: int, by: str, at: datetime) -> dict[str, Any]:
    """Revoke one token (from its next request on); {id, name, owner, revoked} — revoked False when it
    already was."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"接口令牌 {token_id} 不存在")
    owner = session.get_one(User, token.user_id).username
    if token.revoked_at is not None:
        return {"id": token.id, "name": token.name, "owner": owner, "revoked": False}
    token.revoked_at = at
    audit(session, by, "token_revoked", at, owner, token=token.id, name=token.name)
    return {"id": token.id, "name": token.name, "owner": owner, "revoked": True}
