"""Window tablets (现场评价器) and the visits they offer, as tests set them up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine import clock
from tests.support.db import principal

VILLAGE_REGION = {"township": "T01", "village": "T01V01"}


def register_visit(engine: Any, clerk: str = "clerk_v", name: str = "王小五", at: datetime | None = None,
                   region: dict[str, str] | None = None) -> int:
    """A consultation (咨询登记) the clerk registers at their window (at `at`); its id."""
    with clock.frozen_at(at):
        return int(engine.consultations.register(principal(engine, clerk), {
            "name": name, "question": "临时救助怎么申请", "matters": ["linshi"], "region": region or VILLAGE_REGION}))


def make_device(engine: Any, clerk: str = "clerk_v", org: str = "T01V01", name: str = "东湖社区 1 号窗口评价器",
                by: str = "admin1") -> dict[str, Any]:
    """A device of the clerk's window, made by an administrator: its record with the token (shown once)."""
    return dict(engine.devices.create(principal(engine, by), name, org, clerk))
