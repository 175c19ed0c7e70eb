"""现场评价器 (R-6.3.6): administrators register a window's tablet (token shown once, only its hash kept),
list and revoke it (audited); the tablet pairs with the token and offers its clerk's latest visit at its
window from the last 30 minutes while unrated; its rating is the visit's, by `device:<id>`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.access.accounts import token_hash
from engine.errors import Forbidden, InvalidData, NotFound, TaskConflict
from engine.feedback.devices import PENDING_WITHIN, canonical_token
from engine.models import AuditLog, Rating, RatingDevice
from tests.support.db import principal, tx
from tests.support.devices import make_device, register_visit


def audit_actions(database_url: str) -> list[tuple[str, str, str | None]]:
    with tx(database_url) as session:
        return [(a.actor, a.action, a.target) for a in session.scalars(select(AuditLog).where(
            AuditLog.action.like("rating_device%")).order_by(AuditLog.id))]


def test_a_device_keeps_only_the_hash_of_its_token(case_engine: Any, clean_db: str) -> None:
    """The token is shown once, stored as the SHA-256 of its canonical form (as API tokens are), and pairs
    however it is typed; creating and pairing are audited; the pairing records its use."""
    made = make_device(case_engine)
    token = made["token"]
    assert token.startswith("RDV-") and len(token) == 3 + 6 * 5
    with tx(clean_db) as session:
        stored = session.get_one(RatingDevice, made["id"])
        assert stored.token_hash == token_hash(token.replace("-", "")) and token not in str(vars(stored))
        assert stored.last_used_at is None and stored.created_by == "admin1"
    typed = " " + token.lower().replace("-", " ")[4:]  # no prefix, lower case, spaces for dashes
    assert canonical_token(typed) == token.replace("-", "")
    paired = case_engine.devices.pair(typed)
    assert (paired["id"], paired["org_name"], paired["clerk_name"]) == \
        (made["id"], "城东街道东湖社区", "东湖社区窗口 王芳")
    with tx(clean_db) as session:
        assert session.get_one(RatingDevice, made["id"]).last_used_at is not None
    target = f"rating_device:{made['id']}"
    assert audit_actions(clean_db) == [("admin1", "rating_device_created", target),
                                       (f"device:{made['id']}", "rating_device_paired", target)]
    assert "token" not in case_engine.devices.list(None)[0]
    with pytest.raises(NotFound, match="设备令牌不正确"):
        case_engine.devices.pair(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_only_administrators_manage_devices(case_engine: Any, clean_db: str) -> None:
    """A clerk or the center is refused by scoping (devices) for create, list and revoke; nothing is stored."""
    made = make_device(case_engine)
    for username in ("clerk_v", "center1"):
        who = principal(case_engine, username)
        with pytest.raises(Forbidden, match="仅系统管理员"):
            case_engine.devices.create(who, "评价器", "T01V01", "clerk_v")
        with pytest.raises(Forbidden):
            case_engine.devices.list(who)
        with pytest.raises(Forbidden):
            case_engine.devices.revoke(who, made["id"])
    assert [d["live"] for d in case_engine.devices.list(None)] == [True]


def test_a_device_needs_a_name_a_window_and_that_windows_clerk(case_engine: Any) -> None:
    """Refused, each field with its reason: no name, a department (no window), a clerk of another window,
    someone who is no clerk, an unknown user."""
    admin = principal(case_engine, "admin1")
    cases = [("", "T01V01", "clerk_v", "name", "请填写设备名称"),
             ("评价器", "minzheng", "clerk_v", "org_code", "不是受理窗口"),
             ("评价器", "nowhere", "clerk_v", "org_code", "未知机构代码"),
             ("评价器", "center", "clerk_v", "clerk", "不在示范县社会救助中心的窗口"),
             ("评价器", "T01V01", "village1", "clerk", "不是窗口工作人员"),
             ("评价器", "T01V01", "ghost", "clerk", "不存在或已停用")]
    for name, org, clerk, field, message in cases:
        with pytest.raises(InvalidData) as refused:
            case_engine.devices.create(admin, name, org, clerk)
        assert message in refused.value.errors[field][0], (name, org, clerk)
    assert case_engine.devices.list(admin) == []


def test_a_revoked_device_is_refused_at_once(case_engine: Any, clean_db: str) -> None:
    """After revoking, the device no longer pairs, shows or rates; revoking twice is refused; both audited."""
    made = make_device(case_engine)
    visit = register_visit(case_engine)
    assert case_engine.devices.screen(made["id"])["visit"]["id"] == visit
    revoked = case_engine.devices.revoke(None, made["id"])
    assert revoked["live"] is False and revoked["revoked_at"] is not None
    with pytest.raises(NotFound, match="已停用"):
        case_engine.devices.screen(made["id"])
    with pytest.raises(NotFound, match="已停用"):
        case_engine.devices.rate(made["id"], visit, "satisfied")
    with pytest.raises(NotFound, match="设备令牌不正确或该设备已停用"):
        case_engine.devices.pair(made["token"])
    with pytest.raises(TaskConflict, match="已于 .* 停用"):
        case_engine.devices.revoke(None, made["id"])
    with pytest.raises(NotFound):
        case_engine.devices.revoke(None, made["id"] + 100)
    assert [a[:2] for a in audit_actions(clean_db)] == [("admin1", "rating_device_created"),
                                                        ("cli", "rating_device_revoked")]


def test_the_tablet_offers_its_clerks_latest_visit_at_its_window_for_30_minutes(case_engine: Any) -> None:
    """Another clerk's visit, even at the same window, is not offered; the clerk's latest is, with the visitor's
    name masked, until it is 30 minutes old; a newer one replaces it."""
    case_engine.accounts.create_user("clerk_v2", "Lotus-Harbor-58-Quill", "T01V01", ["clerk"], "东湖社区窗口 钱二")
    made = make_device(case_engine)
    start = clock.now() - timedelta(minutes=10)
    assert case_engine.devices.screen(made["id"])["visit"] is None
    register_visit(case_engine, "clerk_v2", at=start)
    register_visit(case_engine, "clerk_c", region={"township": "T01", "village": "T01V01"}, at=start)
    assert case_engine.devices.screen(made["id"])["visit"] is None
    first = register_visit(case_engine, name="张三丰", at=start)
    shown = case_engine.devices.screen(made["id"])
    assert shown["visit"]["id"] == first and shown["visit"]["visitor"] == "张**"
    assert shown["visit"]["matters"] == ["临时救助"]
    assert [code for code, _ in shown["options"]["tags"]] == ["overall", "efficiency_window", "service_level",
                                                             "attitude"]
    with clock.frozen_at(start + PENDING_WITHIN - timedelta(seconds=1)):
        assert case_engine.devices.screen(made["id"])["visit"]["id"] == first
    with clock.frozen_at(start + PENDING_WITHIN + timedelta(seconds=1)):
        assert case_engine.devices.screen(made["id"])["visit"] is None
        with pytest.raises(TaskConflict, match="超过 30 分钟"):
            case_engine.devices.rate(made["id"], first, "satisfied")
    second = register_visit(case_engine, name="李四")
    assert case_engine.devices.screen(made["id"])["visit"]["id"] == second


def test_a_rated_visit_leaves_the_tablet_waiting_and_an_older_one_stays_hidden(case_engine: Any,
                                                                             clean_db: str) -> None:
    """The latest visit rated on the tablet: stored as the window's rating by device:<id>; the tablet then
    waits (the older unrated visit is not put before the next visitor); a second rating, or one of the
    older visit or of another window's visit, is refused."""
    made, other = make_device(case_engine), make_device(case_engine, "clerk_c", "center", "中心 1 号窗口评价器")
    older = register_visit(case_engine, at=clock.now() - timedelta(minutes=5))
    latest = register_visit(case_engine)
    elsewhere = register_visit(case_engine, "clerk_c")
    done = case_engine.devices.rate(made["id"], latest, "very_satisfied", ["overall", "attitude"], " 耐心 ")
    assert done["level_name"] == "非常满意"
    assert case_engine.devices.screen(made["id"])["visit"] is None
    with pytest.raises(TaskConflict, match="本次服务已评价"):
        case_engine.devices.rate(made["id"], latest, "satisfied")
    with pytest.raises(TaskConflict, match="请为最新一次服务评价"):
        case_engine.devices.rate(made["id"], older, "satisfied")
    with pytest.raises(NotFound, match="本设备没有这次服务"):
        case_engine.devices.rate(made["id"], elsewhere, "satisfied")
    with pytest.raises(InvalidData) as wrong:
        case_engine.devices.rate(other["id"], elsewhere, "satisfied", ["usability"])
    assert set(wrong.value.errors) == {"tags"}
    with tx(clean_db) as session:
        [rating] = session.scalars(select(Rating)).all()
    assert (rating.consultation_id, rating.channel, rating.rated_by, rating.org_code, rating.clerk, rating.comment) \
        == (latest, "window", f"device:{made['id']}", "T01V01", "clerk_v", "耐心")


def test_the_device_records_its_use_at_most_once_a_minute(case_engine: Any, clean_db: str) -> None:
    """Polling every few seconds writes the last use once a minute, not on every request."""
    made = make_device(case_engine)

    def last_used() -> Any:
        with tx(clean_db) as session:
            return session.get_one(RatingDevice, made["id"]).last_used_at

    start = clock.now()
    with clock.frozen_at(start):
        case_engine.devices.screen(made["id"])
    with clock.frozen_at(start + timedelta(seconds=30)):
        case_engine.devices.screen(made["id"])
    assert last_used() == start
    with clock.frozen_at(start + timedelta(seconds=61)):
        case_engine.devices.screen(made["id"])
    assert last_used() == start + timedelta(seconds=61)
