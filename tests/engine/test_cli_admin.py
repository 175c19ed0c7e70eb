"""Administration from the command line: demo data, organisations, users, API tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.models import ApiToken, User
from tests.support.cli import relief
from tests.support.db import tx


def test_demo_data_builds_the_county_and_is_idempotent(clean_db: str) -> None:
    """demo-data loads the center, all departments, two townships with two villages each, and users once."""
    first = relief("demo-data", database_url=clean_db)
    assert first["users_created"] == 12
    assert relief("demo-data", database_url=clean_db)["users_created"] == 0
    orgs = relief("org", "list", database_url=clean_db)
    assert all(set(o) == {"code", "name", "kind", "parent", "active", "address", "hours", "phone"} for o in orgs)
    kinds = {o["code"]: o["kind"] for o in orgs}
    assert kinds["center"] == "center" and kinds["joint_office"] == "joint_office"
    departments = {"minzheng", "yibao", "jiaoyu", "canlian", "zhujian", "renshe", "hongshizihui", "zonggonghui",
                   "sifa", "yingji"}
    assert {c for c, k in kinds.items() if k == "department"} == departments
    townships = [o for o in orgs if o["kind"] == "township"]
    assert len(townships) >= 2
    for township in townships:
        assert len([o for o in orgs if o["kind"] == "village" and o["parent"] == township["code"]]) >= 2


def test_demo_data_is_refused_in_production(clean_db: str) -> None:
    """With RELIEF_ENV=production the demo county is never loaded."""
    refused = relief("demo-data", database_url=clean_db, expect=1, ENV="production")
    assert "生产环境" in refused["message"]
    assert relief("org", "list", database_url=clean_db) == []


def test_org_set_changes_only_the_options_given_and_org_list_shows_them(county_db: str) -> None:
    """`relief org set T01V01 --phone … --hours '' --by admin1 --json` → the organisation and each change old →
    new; the address stays; `org list --json` carries the new values."""
    before = {o["code"]: o for o in relief("org", "list", database_url=county_db)}["T01V01"]
    result = relief("org", "set", "T01V01", "--phone", "0512 6000 1188", "--hours", "", "--by", "admin1",
                    database_url=county_db)
    assert result == {"organisation": {**before, "hours": "", "phone": "0512 6000 1188"},
                      "changed": {"hours": [before["hours"], ""], "phone": [before["phone"], "0512 6000 1188"]}}
    after = {o["code"]: o for o in relief("org", "list", database_url=county_db)}["T01V01"]
    assert after["phone"] == "0512 6000 1188" and after["hours"] == "" and after["address"] == before["address"]


def test_org_set_refuses_with_the_reason_and_exit_1(county_db: str) -> None:
    """A bad phone (the field's reason), no option, a non-administrator, an unknown user or code: exit 1, one
    JSON refusal each, nothing changed."""
    before = relief("org", "list", database_url=county_db)
    bad = relief("org", "set", "T02", "--phone", "0512-六一二三", "--address", "新址", "--by", "admin1",
                 database_url=county_db, expect=1)
    assert bad["error"] == "invalid" and "只能由数字" in bad["errors"]["phone"][0]
    assert relief("org", "set", "T02", "--by", "admin1", database_url=county_db, expect=1)["error"] == "invalid"
    forbidden = relief("org", "set", "T02", "--phone", "12345", "--by", "center1", database_url=county_db, expect=1)
    assert forbidden == {"error": "forbidden", "message": "仅系统管理员可以查看和修改机构的窗口信息"}
    for args in (("T02", "--by", "nobody"), ("T09", "--by", "admin1")):
        assert relief("org", "set", args[0], "--phone", "12345", *args[1:], database_url=county_db,
                      expect=1)["error"] == "not_found"
    assert relief("org", "list", database_url=county_db) == before


def test_user_create_reads_the_password_from_stdin(clean_db: str) -> None:
    """user create stores a hashed password read from stdin, with the given organisation and roles."""
    relief("demo-data", database_url=clean_db)
    created = relief("user", "create", "zj2", "--org", "zhujian", "--role", "department", "--role", "analyst",
                           database_url=clean_db, input="Lotus-Harbor-58-Quill\n")
    assert created == {"username": "zj2", "org": "zhujian", "roles": ["department", "analyst"]}
    with tx(clean_db) as session:
        user = session.scalars(select(User).where(User.username == "zj2")).one()
        assert "Lotus-Harbor-58-Quill" not in user.password_hash and sorted(r.role for r in user.roles) == [
            "analyst", "department"]


def test_user_create_refuses_unknown_org_role_and_weak_password(clean_db: str) -> None:
    """Unknown organisation, unknown role and a weak password are refused with field errors."""
    relief("demo-data", database_url=clean_db)
    refused = relief("user", "create", "x1", "--org", "nowhere", "--role", "wizard", database_url=clean_db,
                           input="short\n", expect=1)
    assert set(refused["errors"]) == {"org", "role", "password"}
    duplicate = relief("user", "create", "center1", "--org", "center", "--role", "center",
                             database_url=clean_db, input="Lotus-Harbor-58-Quill\n", expect=1)
    assert "username" in duplicate["errors"]


def test_token_create_stores_only_a_hash_and_can_be_revoked(clean_db: str) -> None:
    """token create prints a token once; the database keeps its SHA-256; revoke disables it."""
    relief("demo-data", database_url=clean_db)
    token = relief("token", "create", "hotline12345", database_url=clean_db)["token"]
    with tx(clean_db) as session:
        rows = session.scalars(select(ApiToken)).all()
        assert len(rows) == 1 and rows[0].token_hash != token and token not in rows[0].token_hash
    assert relief("token", "revoke", "hotline12345", database_url=clean_db) == {"revoked": 1}
    assert relief("token", "create", "nobody", database_url=clean_db, expect=1)["error"] == "not_found"


def test_inbox_rebuild_refiles_a_lost_index(case_engine: Any) -> None:
    """`relief inbox rebuild` refiles the open tasks when the index was emptied (a repair)."""
    from sqlalchemy import delete, func

    from engine.tables import INBOX
    from tests.support.cases import dispatch, start

    dispatch(case_engine, start(case_engine), "minzheng", "yibao")
    url = case_engine.database_url
    with tx(url) as session:
        before = session.execute(select(func.count()).select_from(INBOX)).scalar()
        session.execute(delete(INBOX))
    assert relief("inbox", "rebuild", database_url=url) == {"tasks_filed": 2}
    with tx(url) as session:
        assert session.execute(select(func.count()).select_from(INBOX)).scalar() == before == 4


def test_user_disable_enable_and_reset_password(county_db: str) -> None:
    """relief user disable / enable (audited, by an administrator) and reset-password (a temporary password
    printed once, to change at the next sign-in); a non-administrator is refused."""
    assert relief("user", "disable", "yb1", "--by", "admin1", database_url=county_db) == {
        "username": "yb1", "changed": True}
    assert relief("user", "disable", "yb1", "--by", "admin1", database_url=county_db)["changed"] is False
    with tx(county_db) as session:
        user = session.scalars(select(User).where(User.username == "yb1")).one()
        assert not user.active and user.disabled_at is not None
    assert relief("user", "enable", "yb1", "--by", "admin1", database_url=county_db)["changed"] is True
    reset = relief("user", "reset-password", "yb1", "--by", "admin1", database_url=county_db)
    assert len(reset["password"]) == 19
    with tx(county_db) as session:
        assert session.scalars(select(User).where(User.username == "yb1")).one().must_change_password
    refused = relief("user", "disable", "yb1", "--by", "center1", database_url=county_db, expect=1)
    assert refused["error"] == "forbidden"
