"""The inbox index (inbox_entry) says what `scoping.task_filter` says, through every change of a case,
and pages with a capped count and a keyset cursor (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import and_, func, select

from engine.access import scoping
from engine.cases import inbox_index, store
from engine.cases.inbox import COUNT_CAP, TaskQuery, decode_cursor, encode_cursor, parse_task_query
from engine.status import READY
from engine.tables import INBOX, TASK
from tests.support.cases import accept, dispatch, open_task, start
from tests.support.db import tx

USERS = ("center1", "admin1", "mz1", "yb1", "joint1", "town1", "village1", "clerk_c", "analyst1")


def _oracle(engine: Any, username: str) -> set[str]:
    """The open tasks the user may see, by the row-by-row rule the index replaces."""
    who = engine.accounts.principal_named(username)
    with tx(engine.database_url) as session:
        query = select(TASK.c.id).where(and_(TASK.c.state == READY, scoping.task_filter(who),
                                             store.task_of_open_case()))
        return set(session.execute(query).scalars())


def _inbox(engine: Any, username: str, **query: Any) -> set[str]:
    who = engine.accounts.principal_named(username)
    if not scoping.may(who, "work_tasks"):
        return set()
    page = engine.inbox.tasks(who, TaskQuery(per_page=100, **query))
    assert not page.has_next
    assert page.total == len(page.items)
    return {t["id"] for t in page.items}


def _agree(engine: Any) -> None:
    for username in USERS:
        assert _inbox(engine, username) == _oracle(engine, username), username


def test_the_index_follows_every_change_of_a_case(case_engine: Any) -> None:
    """Start, dispatch, claim, assign, release, field work, suspend, resume, terminate: after each, every
    user's inbox holds exactly the tasks the row-by-row scope rule gives them."""
    engine = case_engine
    one, two = start(engine), start(engine, green_channel=True)
    three = start(engine, township="T02", village=None, level="township")
    _agree(engine)
    dispatch(engine, one, "minzheng", "yibao")
    dispatch(engine, two, "minzheng")
    _agree(engine)
    task = open_task(engine, one, "dept_accept", "minzheng")
    engine.claim_task(task, "mz1")
    _agree(engine)
    assert task in _inbox(engine, "mz1", scope="mine")
    engine.release_task(task, "mz1")
    assert _inbox(engine, "mz1", scope="mine") == set()
    engine.assign_task(task, "mz1", by="admin1", reason="测试")
    _agree(engine)
    engine.complete_task(task, "mz1", accept("village"))
    _agree(engine)
    engine.admin.suspend_case(two, "admin1", "核实身份")
    _agree(engine)
    assert not any(t == two for t in _cases(engine, "mz1"))
    engine.admin.resume_case(two, "admin1", "已核实")
    _agree(engine)
    assert two in _cases(engine, "mz1")
    engine.admin.terminate_case(three, "admin1", "重复申请")
    _agree(engine)
    with tx(engine.database_url) as session:
        filed = session.execute(select(func.count()).select_from(INBOX).where(INBOX.c.case_no == three)).scalar()
    assert filed == 0


def _cases(engine: Any, username: str) -> set[str]:
    who = engine.accounts.principal_named(username)
    return {t["case_no"] for t in engine.inbox.tasks(who, TaskQuery(per_page=100)).items}


def test_rebuild_all_files_what_the_engine_filed(case_engine: Any) -> None:
    """Refiling every open task from the task rows (the migration's backfill) gives the same entries."""
    engine = case_engine
    dispatch(engine, start(engine), "minzheng", "yibao")
    engine.claim_task(open_task(engine, start(engine, green_channel=True), "triage"), "center1")
    columns = [c for c in INBOX.c]
    with tx(engine.database_url) as session:
        before = set(session.execute(select(*columns)).all())
        inbox_index.rebuild_all(session.connection())
        after = set(session.execute(select(*columns)).all())
    assert before and before == after


def test_filters_read_the_index(case_engine: Any) -> None:
    """Case number, township, matter, channel and green channel filter the index as the page asks."""
    engine = case_engine
    here, there = start(engine), start(engine, township="T02", village=None, level="township", matters=["dibao"])
    green = start(engine, green_channel=True)
    assert _inbox(engine, "center1", case_no=here) == {open_task(engine, here, "triage")}
    assert _inbox(engine, "center1", township="T02") == {open_task(engine, there, "triage")}
    assert _inbox(engine, "center1", matter="dibao") == {open_task(engine, there, "triage")}
    assert _inbox(engine, "center1", green_channel=True) == {open_task(engine, green, "triage")}
    assert _inbox(engine, "center1", channel="window") == _oracle(engine, "center1")
    assert _inbox(engine, "center1", name="100%_") == set()


def test_cursor_pages_cover_every_task_once_in_order(case_engine: Any) -> None:
    """Following 下一页 from the first page visits every task once, in the order of the whole list."""
    engine = case_engine
    for i in range(7):
        start(engine, green_channel=i % 3 == 0)
    who = engine.accounts.principal_named("center1")
    for sort in ("priority", "due", "created", "name"):
        whole = [t["id"] for t in engine.inbox.tasks(who, TaskQuery(per_page=100, sort=sort)).items]
        seen: list[str] = []
        query = TaskQuery(per_page=3, sort=sort)
        while True:
            page = engine.inbox.tasks(who, query)
            seen += [t["id"] for t in page.items]
            if not page.has_next:
                break
            query = TaskQuery(per_page=3, sort=sort, page=query.page + 1, after=str(page.cursor))
        assert seen == whole and len(whole) == 7, sort
        numbered = [t["id"] for n in (1, 2, 3)
                    for t in engine.inbox.tasks(who, TaskQuery(per_page=3, sort=sort, page=n)).items]
        assert numbered == whole, sort


def test_count_is_capped_when_large(case_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past COUNT_CAP the total is a floor (shown as "1,000+"), for one viewer key and for several."""
    from engine.cases import inbox as inbox_module

    engine = case_engine
    for _ in range(4):
        dispatch(engine, start(engine), "minzheng")
    monkeypatch.setattr(inbox_module, "COUNT_CAP", 3)
    center = engine.inbox.tasks(engine.accounts.principal_named("center1"), TaskQuery(per_page=2))
    assert (center.total, center.capped, center.has_next) == (3, True, True)
    mz1 = engine.accounts.principal_named("mz1")
    assert len(scoping.inbox_keys(mz1)) > 1
    department = engine.inbox.tasks(mz1, TaskQuery(per_page=2))
    assert (department.total, department.capped) == (3, True)
    monkeypatch.setattr(inbox_module, "COUNT_CAP", 4)
    exact = engine.inbox.tasks(mz1, TaskQuery(per_page=2))
    assert (exact.total, exact.capped, exact.pages) == (4, False, 2)
    assert COUNT_CAP == 1000


def test_a_bad_cursor_or_a_deep_page_starts_over_with_a_reason() -> None:
    """A tampered cursor, or one of another sort, is refused in Chinese (the API: 400); so is a page
    number deeper than MAX_DEPTH without a cursor."""
    good = encode_cursor("due", ["2026-12-01T00:00:00+00:00", "2026-11-30T00:00:00+00:00", "abc"])
    assert decode_cursor(good, "due") is not None
    assert decode_cursor(good, "priority") is None
    assert decode_cursor("not-a-cursor", "due") is None
    assert decode_cursor(encode_cursor("due", [1, 2, 3]), "due") is None
    lenient = parse_task_query({"after": "garbage", "page": "4"})
    assert (lenient.after, lenient.page) == ("", 1) and "after" in lenient.errors
    deep = parse_task_query({"page": "9999"})
    assert deep.page == 1 and "页码过大" in deep.errors["page"][0]
    assert parse_task_query({"page": "9999", "after": good, "sort": "due"}).page == 9999
    longest = encode_cursor("name", ["救" * 200, "2026-12-01T00:00:00+00:00", "abc"])  # a name at its limit
    assert parse_task_query({"after": longest, "sort": "name"}).after == longest
