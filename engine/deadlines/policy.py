"""How long a user task may take: the BPMN's dueWorkdays, shortened for 绿色通道 cases (R-6.3.5)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from engine import clock
from engine.deadlines.workcal import WorkCalendar

DEFAULT_FACTOR = Fraction(1, 2)
# The longest time limit a step may have, in working days (the deploy lint and the BPMN helper).
MAX_DUE_WORKDAYS = 365


@dataclass(frozen=True)
class DueTimePolicy:
    """Turns a task's dueWorkdays into the working days it actually gets (`Settings.due_policy`)."""

    green_channel_factor: Fraction = DEFAULT_FACTOR

    def due_workdays(self, workdays: int, green_channel: bool) -> int:
        """Working days for a task: green-channel ones get factor × dueWorkdays, rounded up, at least 1."""
        if not green_channel or workdays == 0:
            return workdays
        return max(1, math.ceil(workdays * self.green_channel_factor))


def workday_deadline_helper(calendar: WorkCalendar, policy: DueTimePolicy) -> Callable[..., str]:
    """The BPMN helper `workday_deadline(n, green_channel=False)` (timers such as 督办 after 15 working days)."""

    def workday_deadline(workdays: int, green_channel: bool = False) -> str:
        """The ISO due moment `workdays` working days from the engine clock; 绿色通道 cases get fewer."""
        if not 0 <= int(workdays) <= MAX_DUE_WORKDAYS:
            raise ValueError(f"workday_deadline 的工作日数应在 0 到 {MAX_DUE_WORKDAYS} 之间，实际为 {workdays}")
        days = policy.due_workdays(int(workdays), bool(green_channel))
        return calendar.add_workdays(clock.now(), days).isoformat()

    return workday_deadline
