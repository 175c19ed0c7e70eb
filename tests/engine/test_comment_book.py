"""意见簿 (R-6.3.6): suggestions from the portal and the hall, listed and answered by the center; an answer
marked public is shown on the portal with its suggestion, never with the contact."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import Forbidden, InvalidData, NotFound
from tests.support.db import principal


def test_the_center_lists_answers_and_publishes(case_engine: Any) -> None:
    """Two from the portal and one from the hall: unanswered first, contact masked; answering one in public
    puts it, and only it, on the portal without its contact."""
    book = case_engine.suggestions
    first = book.submit_online("希望延长周六办理时间", "13800138000")
    second = book.submit_online("窗口指引清楚，点赞")
    hall = book.enter_from_hall(principal(case_engine, "clerk_c"), "大厅座椅太少", "李先生 0512-60001234")
    center = principal(case_engine, "center1")
    listed = book.listing(center)
    assert [s["id"] for s in listed.items] == [hall, second, first]
    assert [s["contact"] for s in listed.items] == ["李先生 0512-****1234", "", "138****8000"]
    assert listed.items[0]["channel_label"] == "大厅意见簿" and "clerk_c" in listed.items[0]["entered_by_name"]
    book.answer(center, first, "自下月起周六上午开放", public=True)
    book.answer(center, second, "谢谢", public=False)
    assert [s["id"] for s in book.listing(center, "unanswered").items] == [hall]
    assert [s["id"] for s in book.listing(center, "answered").items] == [second, first]
    [shown] = book.public_listing().items
    assert (shown["id"], shown["text"], shown["answer"]) == (first, "希望延长周六办理时间", "自下月起周六上午开放")
    assert set(shown) == {"id", "text", "created_at", "answer", "answered_at"}


def test_refusals(case_engine: Any) -> None:
    """Empty or too long text, a long contact, an empty answer, an unknown entry; a department may not answer
    and only a window clerk types in the hall's book."""
    book = case_engine.suggestions
    with pytest.raises(InvalidData) as bad:
        book.submit_online(" ", "x" * 101)
    assert set(bad.value.errors) == {"text", "contact"}
    with pytest.raises(InvalidData):
        book.submit_online("长" * 1001)
    entry = book.submit_online("建议")
    center = principal(case_engine, "center1")
    with pytest.raises(InvalidData):
        book.answer(center, entry, "  ")
    with pytest.raises(NotFound):
        book.answer(center, entry + 99, "好")
    with pytest.raises(Forbidden):
        book.answer(principal(case_engine, "mz1"), entry, "好")
    with pytest.raises(Forbidden):
        book.listing(principal(case_engine, "clerk_c"))
    with pytest.raises(Forbidden):
        book.enter_from_hall(center, "纸质意见")
    assert book.public_listing().items == []
