"""Keeping the audit log: pruning from the chain's start keeps it verifiable, refuses to remove entries that fail
the check, is audited; the retention period is a setting of at least six months; the deadline jobs check the
chain once a day and tell each administrator once about a problem; migration 0021 chains the entries on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from engine import clock, schema
from engine.access.accounts import audit
from engine.audit.retention import PruneRefused
from engine.cases.runtime import CaseEngine
from engine.deadlines.jobs import tick
from engine.settings import Settings, SettingsError
from engine.tables import NOTICE
from tests.support.audit import entries, head, raw
from tests.support.cli import relief
from tests.support.db import engine_for, tx

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


@pytest.fixture
def engine(county_db: str) -> CaseEngine:
    """The demo county's engine; its log: the county's entries (now), then 3 entries 200 days on, 2 300 days on."""
    found = engine_for(county_db)
    with tx(county_db) as session:
        for n, days in enumerate((200, 200, 200, 300, 300)):
            audit(session, "center1", "unmask", clock.now() + timedelta(days=days), f"SJ{n}", reason="核对")
    return found


def test_pruning_takes_the_start_of_the_chain_and_moves_the_anchor(engine: CaseEngine) -> None:
    """400 days on (365 kept) the county's entries go: the anchor is the first kept entry's seq and prev_hash, the
    prune is itself an entry (with its row count), the rest verifies, and a second prune removes nothing."""
    url = engine.database_url
    before = entries(url)
    county = len(before) - 5
    done = engine.audit.prune(clock.now() + timedelta(days=400), actor="admin1")
    assert done == {"pruned": county, "anchor_seq": county + 1, "retention_days": 365}
    kept = entries(url)
    assert [e["seq"] for e in kept] == list(range(county + 1, county + 7))
    assert {k: head(url)[k] for k in ("anchor_seq", "anchor_hash")} == {
        "anchor_seq": county + 1, "anchor_hash": before[county]["prev_hash"]}
    assert (kept[-1]["action"], kept[-1]["actor"], kept[-1]["details"]["rows"]) == ("audit_pruned", "admin1", county)
    verdict = engine.audit.verify()
    assert verdict.ok and verdict.checked == 6 and verdict.anchor == {"seq": county + 1,
                                                                        "prev_hash": before[county]["prev_hash"]}
    assert engine.audit.prune(clock.now() + timedelta(days=400))["pruned"] == 0 and len(entries(url)) == 6


def test_after_pruning_tampering_is_still_found(engine: CaseEngine) -> None:
    """The first kept entry deleted after a prune: the check, starting at the anchor, names it deleted."""
    anchor = engine.audit.prune(clock.now() + timedelta(days=400))["anchor_seq"]
    raw(engine.database_url, "DELETE FROM audit_log WHERE seq = :s", s=anchor)
    problem = engine.audit.verify().problem
    assert problem is not None and (problem.kind, problem.seq) == ("deleted", anchor)


def test_entries_that_fail_the_check_are_not_pruned(engine: CaseEngine) -> None:
    """An edited entry among those due to go is evidence: the prune is refused and deletes nothing; a problem
    among the entries kept does not stop it."""
    url = engine.database_url
    actor = entries(url)[2]["actor"]
    raw(url, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(PruneRefused, match="第 3 条"):
        engine.audit.prune(clock.now() + timedelta(days=400))
    assert entries(url)[0]["seq"] == 1 and head(url)["anchor_seq"] == 1
    raw(url, "UPDATE audit_log SET actor = :a WHERE seq = 3", a=actor)
    last = entries(url)[-1]["seq"]
    raw(url, "UPDATE audit_log SET actor = 'mallory' WHERE seq = :s", s=last)
    assert engine.audit.prune(clock.now() + timedelta(days=400))["pruned"] > 0
    assert engine.audit.verify().problem.seq == last  # type: ignore[union-attr]


def test_prune_on_the_command_line(engine: CaseEngine) -> None:
    """`relief audit prune --json` prunes (nothing yet: every entry is younger than 365 days) and says so; with a
    broken chain among the entries due it exits 1."""
    url = engine.database_url
    assert relief("audit", "prune", database_url=url) == {"pruned": 0, "anchor_seq": 1, "retention_days": 365}
    assert relief("audit", "prune", database_url=url, AUDIT_RETENTION_DAYS="183")["pruned"] == 0
    raw(url, "UPDATE audit_log SET details = :d WHERE seq = 1", d="{}")
    with clock.frozen_at(clock.now() + timedelta(days=400)):
        refused = relief("audit", "prune", database_url=url, expect=1)
    assert refused["error"] == "audit_broken" and "第 1 条" in refused["message"]


@pytest.mark.parametrize("value, message", [("100", "至少保存 6 个月"), ("182", "不少于 183 天"), ("半年", "整数")])
def test_the_retention_period_is_at_least_six_months(value: str, message: str) -> None:
    """RELIEF_AUDIT_RETENTION_DAYS below 183 days (or not a number) is refused with the variable named."""
    with pytest.raises(SettingsError, match="RELIEF_AUDIT_RETENTION_DAYS") as refused:
        Settings.from_environ({"RELIEF_AUDIT_RETENTION_DAYS": value})
    assert message in str(refused.value)
    assert Settings.from_environ({}).audit_retention_days == 365
    assert Settings.from_environ({"RELIEF_AUDIT_RETENTION_DAYS": "183"}).audit_retention_days == 183


def audit_notices(database_url: str) -> list[tuple[str, str]]:
    """(username, content) of every in-app notice about the audit log."""
    query = select(NOTICE.c.username, NOTICE.c.content).where(NOTICE.c.kind == "audit_broken")
    with tx(database_url) as session:
        return [(row.username, row.content) for row in session.execute(query.order_by(NOTICE.c.username))]


def test_the_daily_job_checks_once_a_day(engine: CaseEngine) -> None:
    """The first tick of a Beijing day checks the chain; the other ticks of that day do not; the next day's does."""
    first = tick(engine, T0)["audit_check"]
    assert first is not None and first["ok"] is True and first["checked"] == len(entries(engine.database_url))
    assert [tick(engine, T0 + timedelta(minutes=m))["audit_check"] for m in (1, 60, 14 * 60)] == [None] * 3
    assert head(engine.database_url)["verified_on"].isoformat() == "2026-03-02"
    assert tick(engine, T0 + timedelta(hours=15))["audit_check"] is not None  # 00:00 on 3 March in Beijing


def test_a_broken_chain_tells_each_administrator_once(engine: CaseEngine) -> None:
    """After an edit the day's check fails and every active administrator (not the center's supervisors) gets one
    in-app notice naming the entry; the next days' checks find the same problem and tell no one again."""
    engine.accounts.create_user("admin2", "Lotus-Harbor-58-Quill", "center", ["admin"])
    tick(engine, T0)
    raw(engine.database_url, "UPDATE audit_log SET target = 'SJ-forged' WHERE seq = 7")
    report: dict[str, Any] = tick(engine, T0 + timedelta(days=1))["audit_check"]
    assert (report["ok"], report["problem"]["kind"], report["problem"]["seq"], report["notices"]) == (
        False, "altered", 7, 2)
    told = audit_notices(engine.database_url)
    assert [name for name, _ in told] == ["admin1", "admin2"] and all("第 7 条" in text for _, text in told)
    assert tick(engine, T0 + timedelta(days=2))["audit_check"]["notices"] == 0
    assert len(audit_notices(engine.database_url)) == 2
    assert head(engine.database_url)["verdict"]["problem"]["seq"] == 7


def test_the_migration_chains_the_entries_on_record(county_db: str) -> None:
    """Upgrading a database of 0020 numbers its entries in id order and chains them so the check passes with the
    head after the last; downgrading again keeps the entries and drops the chain."""
    from alembic import command
    from sqlalchemy import inspect

    from engine import db

    config = schema.alembic_config(county_db)
    old = [(e["id"], e["action"]) for e in entries(county_db)]
    command.downgrade(config, "0020")
    try:
        raw(county_db, "DELETE FROM audit_log WHERE id = :i", i=old[2][0])  # ids with a hole, as a log may have
        raw(county_db, "INSERT INTO audit_log (at, actor, action, target, details)"
            " VALUES ('2026-01-05 08:00:00.000000', 'center1', 'unmask', 'SJ1', :d)", d='{"reason": "核对身份"}')
        with db.get_engine(county_db).connect() as conn:
            assert "seq" not in {c["name"] for c in inspect(conn).get_columns("audit_log")}
        command.upgrade(config, "head")
        chained = entries(county_db)
        assert [e["id"] for e in chained] == sorted(e["id"] for e in chained) and len(chained) == len(old)
        assert [e["seq"] for e in chained] == list(range(1, len(old) + 1))
        assert chained[-1]["details"] == {"reason": "核对身份"}
        assert engine_for(county_db).audit.verify().ok and head(county_db)["seq"] == len(old)
        command.downgrade(config, "0020")
        with tx(county_db) as session:
            assert session.execute(text("SELECT count(*) FROM audit_log")).scalar() == len(old)
    finally:
        schema.upgrade(county_db)
