"""How long a user task may take: the BPMN's dueWorkdays, shortened for 绿色通道 cases (R-6.3.5)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

FACTOR_ENV_VAR = "RELIEF_GREEN_CHANNEL_FACTOR"
DEFAULT_FACTOR = Fraction(1, 2)


class PolicyError(ValueError):
    """Raised when the green-channel factor is not a number in (0, 1]."""


@dataclass(frozen=True)
class DueTimePolicy:
    """Turns a task's dueWorkdays into the working days it actually gets."""

    green_channel_factor: Fraction = DEFAULT_FACTOR

    @classmethod
    def from_env(cls) -> DueTimePolicy:
        """The policy configured by $RELIEF_GREEN_CHANNEL_FACTOR (default 0.5)."""
        return _policy_for(os.environ.get(FACTOR_ENV_VAR, "").strip())

    def due_workdays(self, workdays: int, green_channel: bool) -> int:
        """Working days for a task: green-channel ones get factor × dueWorkdays, rounded up, at least 1."""
        if not green_channel or workdays == 0:
            return workdays
        return max(1, math.ceil(workdays * self.green_channel_factor))


@lru_cache(maxsize=8)
def _policy_for(text: str) -> DueTimePolicy:
    # Cached by the variable's text: mirrors are built on every step, the value rarely changes.
    if not text:
        return DueTimePolicy()
    try:
        # A Fraction keeps "0.1" exact, so 30 × 0.1 rounds up to 3 and not to 4.
        factor = Fraction(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise PolicyError(f"{FACTOR_ENV_VAR}={text!r} is not a number such as 0.5") from exc
    if not 0 < factor <= 1:
        raise PolicyError(f"{FACTOR_ENV_VAR}={text!r} must be greater than 0 and at most 1 "
                          "(green-channel cases get a shorter due time, never a longer one)")
    return DueTimePolicy(factor)
