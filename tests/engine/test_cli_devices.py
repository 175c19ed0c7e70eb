"""`relief device create|list|revoke --json`: one JSON document each; the token once, never listed; refusals
exit 1 with the reason."""

from __future__ import annotations

from sqlalchemy import select

from engine.access.accounts import token_hash
from engine.models import AuditLog, RatingDevice
from tests.support.cli import relief
from tests.support.db import tx

RECORD = {"id", "name", "org_code", "org_name", "clerk", "clerk_name", "created_by", "created_at", "last_used_at",
          "revoked_at", "live"}


def test_create_list_and_revoke_a_device(county_db: str) -> None:
    """create prints the record and the token (its hash stored), list the records without it, revoke the
    revoked record; the operator without --by is audited as cli."""
    made = relief("device", "create", "东湖社区 1 号窗口评价器", "--org", "T01V01", "--clerk", "clerk_v",
                  "--by", "admin1", database_url=county_db)
    assert set(made) == RECORD | {"token"}
    assert (made["org_name"], made["clerk_name"], made["created_by"], made["live"]) == \
        ("城东街道东湖社区", "东湖社区窗口 王芳", "admin1", True)
    with tx(county_db) as session:
        assert session.get_one(RatingDevice, made["id"]).token_hash == token_hash(made["token"].replace("-", ""))
    listed = relief("device", "list", database_url=county_db)
    assert [set(d) for d in listed] == [RECORD] and listed[0]["id"] == made["id"]
    revoked = relief("device", "revoke", str(made["id"]), database_url=county_db)
    assert revoked["live"] is False and revoked["revoked_at"]
    with tx(county_db) as session:
        actors = [(a.actor, a.action) for a in session.scalars(select(AuditLog).where(
            AuditLog.action.like("rating_device%")).order_by(AuditLog.id))]
    assert actors == [("admin1", "rating_device_created"), ("cli", "rating_device_revoked")]


def test_refusals_exit_1_with_the_reason(county_db: str) -> None:
    """A non-administrator, a clerk of another window, an unknown device and a second revoke are refused."""
    args = ("device", "create", "评价器", "--org", "T01V01", "--clerk", "clerk_v")
    refused = relief(*args, "--by", "clerk_v", database_url=county_db, expect=1)
    assert refused["error"] == "forbidden" and "仅系统管理员" in refused["message"]
    wrong = relief("device", "create", "评价器", "--org", "T01V01", "--clerk", "clerk_c", "--by", "admin1",
                   database_url=county_db, expect=1)
    assert wrong["error"] == "invalid" and "不在城东街道东湖社区的窗口" in wrong["errors"]["clerk"][0]
    assert relief("device", "revoke", "99", database_url=county_db, expect=1)["error"] == "not_found"
    made = relief(*args, "--by", "admin1", database_url=county_db)
    relief("device", "revoke", str(made["id"]), "--by", "admin1", database_url=county_db)
    again = relief("device", "revoke", str(made["id"]), database_url=county_db, expect=1)
    assert again["error"] == "conflict" and "停用" in again["message"]
    assert relief("device", "list", database_url=county_db)[0]["live"] is False
