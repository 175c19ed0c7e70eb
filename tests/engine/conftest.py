"""Engine fixtures: an engine that deserializes at every step, and cases walked through the real store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cases import CaseWalker
from tests.support.db import engine_for


@pytest.fixture
def case_engine(clean_db: str) -> Any:
    """An engine that deserializes from the database at every step (no workflow reuse)."""
    return engine_for(clean_db, deploy=True, county=True, reuse_workflows=False)


@pytest.fixture
def start_case(case_engine: Any, applicant: dict[str, Any]) -> Any:
    """Start a case and return a CaseWalker for it."""

    def start(green_channel: bool = False, **changes: Any) -> CaseWalker:
        record = {**applicant, **changes}
        case_no, _ = case_engine.start_case(record, "window", "village", green_channel, "clerk1")
        walker = CaseWalker(case_engine, case_no)
        walker.check_store()
        return walker

    return start
