"""One page of a query (分页): every list in the product pages the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, func, select

T = TypeVar("T")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items of one page, the total across pages, and where this page is."""

    items: list[T]
    total: int
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    extra: dict[str, Any] = field(default_factory=dict)
    # A capped count: there are more than `total` items (shown as "1,000+"), how many is not counted.
    capped: bool = False
    # Where the next page starts (keyset pagination), and whether there is one, when the query knows.
    cursor: str | None = None
    more: bool | None = None

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even when empty); with a capped count, those counted."""
        return max(1, (self.total + self.per_page - 1) // self.per_page)

    @property
    def has_prev(self) -> bool:
        """True when there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """True when there is a page after this one."""
        return self.more if self.more is not None else self.page < self.pages


def clamp(page: Any, per_page: Any = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """(page, per_page) as sane integers: page ≥ 1, 1 ≤ per_page ≤ MAX_PER_PAGE."""
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    try:
        size = min(MAX_PER_PAGE, max(1, int(per_page)))
    except (TypeError, ValueError):
        size = DEFAULT_PER_PAGE
    return number, size


def paginate(conn: Connection, query: Select[Any], page: int, per_page: int,
             row: Callable[[Any], T], count: Select[Any] | None = None) -> Page[T]:
    """Run `query` for one page (its ORDER BY kept) and count all its rows (or run `count`)."""
    page, per_page = clamp(page, per_page)
    counter = count if count is not None else select(func.count()).select_from(query.order_by(None).subquery())
    total = int(conn.execute(counter).scalar_one())
    rows: Sequence[Any] = conn.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([row(r) for r in rows], total, page, per_page)
