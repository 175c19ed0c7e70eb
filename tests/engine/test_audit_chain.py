"""The tamper-evident audit log (R-6.4.3): every entry is chained to the one before it, and an edit, deletion,
insertion or change of order made with raw SQL — as someone with access to the database would — is found
and named by `relief audit verify`, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.access.accounts import audit
from engine.audit.chain import GENESIS, row_hash
from engine.cases.runtime import CaseEngine
from tests.support.audit import entries, forge_after_last, head, raw
from tests.support.cli import relief
from tests.support.db import engine_for, tx
from tests.support.web import DEMO_PASSWORD


@pytest.fixture
def engine(county_db: str) -> CaseEngine:
    """An engine on the demo county (its users and catalog already audited), with five more sign-ins."""
    found = engine_for(county_db)
    for username in ("center1", "clerk_c", "admin1", "center1", "mz1"):
        principal, _ = found.accounts.sign_in(username, DEMO_PASSWORD)
        assert principal is not None
    return found


def problem_of(engine: CaseEngine) -> dict[str, Any] | None:
    """What `verify` says is wrong, as a dict (None: the chain is whole)."""
    verdict = engine.audit.verify()
    assert verdict.ok == (verdict.problem is None)
    return verdict.as_dict()["problem"]


def test_each_entry_follows_the_hash_of_the_one_before(engine: CaseEngine) -> None:
    """seq runs 1, 2, 3 … without a gap, the first entry follows GENESIS, each next one the row_hash of the entry
    before, every row_hash is the SHA-256 of its fields, and the head names the last entry."""
    stored = entries(engine.database_url)
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1)) and len(stored) > 20
    assert [e["action"] for e in stored[-5:]] == ["login"] * 5
    assert stored[0]["prev_hash"] == GENESIS
    assert all(later["prev_hash"] == earlier["row_hash"] for earlier, later in zip(stored, stored[1:], strict=False))
    assert all(e["row_hash"] == row_hash(e, e["prev_hash"]) for e in stored)
    assert {k: head(engine.database_url)[k] for k in ("seq", "row_hash")} == {
        "seq": stored[-1]["seq"], "row_hash": stored[-1]["row_hash"]}
    verdict = engine.audit.verify()
    assert verdict.ok and verdict.checked == len(stored) and problem_of(engine) is None


def test_the_hash_covers_every_field(engine: CaseEngine) -> None:
    """Changing any one of at, actor, action, target or details (or the hash it follows) changes row_hash."""
    entry = entries(engine.database_url)[-1]
    digest = row_hash(entry, entry["prev_hash"])
    changed = [{"actor": "mallory"}, {"action": "logout"}, {"target": "x"}, {"details": {"n": 1}},
               {"at": entry["at"].replace(microsecond=(entry["at"].microsecond + 1) % 1_000_000)}]
    assert all(row_hash({**entry, **change}, entry["prev_hash"]) != digest for change in changed)
    assert row_hash(entry, GENESIS) != digest


@pytest.mark.parametrize("column, value", [("actor", "'mallory'"), ("action", "'logout'"), ("target", "'SJ000'"),
                                           ("at", "'2020-01-01 00:00:00'")])
def test_an_edited_entry_is_found(engine: CaseEngine, column: str, value: str) -> None:
    """UPDATE of one column of the 4th entry: verify names it (seq 4, its id) as altered and exits 1."""
    victim = entries(engine.database_url)[3]
    raw(engine.database_url, f"UPDATE audit_log SET {column} = {value} WHERE seq = 4")
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"], problem["row_id"]) == ("altered", 4, victim["id"])
    assert "第 4 条" in problem["message"] and "修改" in problem["message"]


def test_edited_details_are_found(engine: CaseEngine) -> None:
    """The details (JSON) rewritten: altered."""
    raw(engine.database_url, "UPDATE audit_log SET details = :details WHERE seq = 2", details='{"org": "T01"}')
    assert problem_of(engine)["kind"] == "altered"  # type: ignore[index]


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(engine: CaseEngine) -> None:
    """An attacker who knows the algorithm rewrites entry 4 and its row_hash: entry 5 no longer follows it, so
    entry 4 is named as rewritten."""
    entry = entries(engine.database_url)[3]
    forged = row_hash({**entry, "actor": "mallory"}, entry["prev_hash"])
    raw(engine.database_url, "UPDATE audit_log SET actor = 'mallory', row_hash = :h WHERE seq = 4", h=forged)
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"], problem["row_id"]) == ("altered", 4, entry["id"])


@pytest.mark.parametrize("where, missing", [("seq = 5", 5), ("seq IN (5, 6, 7)", 5), ("seq = 1", 1)])
def test_a_deleted_entry_leaves_a_gap(engine: CaseEngine, where: str, missing: int) -> None:
    """DELETE in the middle or at the start: verify names the first missing seq as deleted."""
    raw(engine.database_url, f"DELETE FROM audit_log WHERE {where}")
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"]) == ("deleted", missing)
    assert f"第 {missing}" in problem["message"]


def test_deleting_the_last_entries_is_found_against_the_head(engine: CaseEngine) -> None:
    """The newest two entries deleted: no gap is left, but the head still names the last seq."""
    last = entries(engine.database_url)[-1]["seq"]
    raw(engine.database_url, "DELETE FROM audit_log WHERE seq >= :s", s=last - 1)
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"], problem["row_id"]) == ("deleted", last - 1, None)


@pytest.mark.parametrize("move_head", [False, True])
def test_an_inserted_entry_is_found(engine: CaseEngine, move_head: bool) -> None:
    """A copy of an unmask entry slipped in after the last one, chained as the engine would: past the head it is
    inserted; with the head moved over it too, only a copy of the head kept elsewhere tells (verify passes)."""
    with tx(engine.database_url) as session:
        audit(session, "center1", "unmask", clock.now(), "SJ1", reason="核对")
    before = engine.audit.verify().as_dict()["head"]
    seq = forge_after_last(engine.database_url, copy_of=entries(engine.database_url)[-1]["seq"], move_head=move_head)
    verdict = engine.audit.verify()
    if move_head:
        assert verdict.ok and verdict.head != before  # the head moved: what an outside copy would show
    else:
        assert verdict.problem is not None and (verdict.problem.kind, verdict.problem.seq) == ("inserted", seq)


def test_an_entry_inserted_in_the_middle_is_found(engine: CaseEngine) -> None:
    """Entries 6… renumbered one up and a forged entry chained after 5 put at 6: entry 7 (the old 6) was written
    after 5, so 6 is named as inserted."""
    stored = entries(engine.database_url)
    fifth = stored[4]
    forged = row_hash({**fifth, "actor": "mallory"}, fifth["row_hash"])
    raw(engine.database_url, "UPDATE audit_log SET seq = -seq WHERE seq > 5",
        "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0", "UPDATE audit_chain_head SET seq = seq + 1",
        "INSERT INTO audit_log (at, actor, action, target, details, seq, prev_hash, row_hash)"
        " SELECT at, 'mallory', action, target, details, 6, :prev, :digest FROM audit_log WHERE seq = 5",
        prev=fifth["row_hash"], digest=forged)
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"]) == ("inserted", 6)


def test_an_entry_before_the_start_is_found(engine: CaseEngine) -> None:
    """A row given seq 0 (before the chain's start): inserted."""
    raw(engine.database_url, "INSERT INTO audit_log (at, actor, action, target, details, seq, prev_hash, row_hash)"
        " SELECT at, actor, action, target, details, 0, prev_hash, row_hash FROM audit_log WHERE seq = 1")
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"]) == ("inserted", 0)


def test_swapped_entries_are_reordered(engine: CaseEngine) -> None:
    """Entries 3 and 4 swap their seq (each row untouched otherwise): reordered, at seq 3."""
    moved = entries(engine.database_url)[3]
    raw(engine.database_url, "UPDATE audit_log SET seq = -1 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4", "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    problem = problem_of(engine)
    assert problem is not None and (problem["kind"], problem["seq"], problem["row_id"]) == ("reordered", 3, moved["id"])


def test_a_deleted_head_is_reported_and_then_rebuilt(engine: CaseEngine) -> None:
    """Without its head the log cannot vouch for its end: head_missing; the next entry rebuilds the head from the
    log and the chain goes on from its last entry."""
    raw(engine.database_url, "DELETE FROM audit_chain_head")
    assert problem_of(engine)["kind"] == "head_missing"  # type: ignore[index]
    engine.accounts.sign_in("center1", DEMO_PASSWORD)
    assert problem_of(engine) is None and entries(engine.database_url)[-1]["action"] == "login"


def test_an_entry_of_a_transaction_that_rolled_back_is_never_written(engine: CaseEngine) -> None:
    """audit() queues the entry with its transaction: a rollback drops it, and the session's next transaction does
    not write it."""
    before = len(entries(engine.database_url))
    session = engine.sessions()
    with pytest.raises(RuntimeError), session.begin():
        audit(session, "center1", "unmask", clock.now(), "SJ1", reason="x")
        raise RuntimeError("rolled back")
    with session.begin():
        audit(session, "center1", "unmask", clock.now(), "SJ2", reason="y")
    session.close()
    stored = entries(engine.database_url)
    assert len(stored) == before + 1 and stored[-1]["target"] == "SJ2" and problem_of(engine) is None


def test_concurrent_transactions_never_fork_the_chain(engine: CaseEngine) -> None:
    """Two threads audit 60 times each at once (sign-ins and unmask entries, each its own transaction): every
    entry is written once, seq has no gap or duplicate and the chain verifies (without the head's lock two
    would take the same seq: a unique violation, or a fork)."""
    before = len(entries(engine.database_url))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(username: str) -> None:
        barrier.wait()
        try:
            for n in range(30):
                engine.accounts.sign_in(username, DEMO_PASSWORD)
                with tx(engine.database_url) as session:
                    audit(session, username, "unmask", clock.now(), f"SJ{n}", reason="并发")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("center1", "admin1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    stored = entries(engine.database_url)
    assert [e["seq"] for e in stored] == list(range(1, before + 121))
    assert problem_of(engine) is None


def test_a_second_entry_with_the_same_seq_is_refused(engine: CaseEngine) -> None:
    """The unique index on seq is a second guard: a row copied with an existing seq is refused by the database."""
    with pytest.raises(IntegrityError):
        raw(engine.database_url, "INSERT INTO audit_log (at, actor, action, target, details, seq, prev_hash, row_hash)"
            " SELECT at, actor, action, target, details, seq, prev_hash, row_hash FROM audit_log WHERE seq = 2")


def test_verify_json_contract(engine: CaseEngine) -> None:
    """`relief audit verify --json`: {ok, checked, head {seq,row_hash}, anchor {seq,prev_hash}, problem} exit 0; after
    an edit exit 1 with the problem {kind, seq, row_id, message}."""
    url = engine.database_url
    whole = relief("audit", "verify", database_url=url)
    last = entries(url)[-1]
    assert whole == {"ok": True, "checked": len(entries(url)), "problem": None,
                     "head": {"seq": last["seq"], "row_hash": last["row_hash"]},
                     "anchor": {"seq": 1, "prev_hash": GENESIS}}
    raw(url, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    broken = relief("audit", "verify", database_url=url, expect=1)
    assert broken["ok"] is False and set(broken["problem"]) == {"kind", "seq", "row_id", "message"}
    assert (broken["problem"]["kind"], broken["problem"]["seq"]) == ("altered", 2)
