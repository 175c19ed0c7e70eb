"""BPMN timer definitions that read the engine clock instead of the wall clock.

SpiffWorkflow's timers compare with ``datetime.now()``; deadlines here must be testable with a
controlled clock and drivable by ``relief scheduler tick --now``, so each timer kind is
subclassed to ask `engine.clock.now()`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from engine import clock


def _fire_if_due(my_task: Any, event_value: str) -> bool:
    if TimerEventDefinition.get_datetime(event_value) <= clock.now():
        my_task._set_internal_data(event_fired=True)
    return bool(my_task._get_internal_data("event_fired", False))


class ClockedTimeDate(TimeDateEventDefinition):
    """A timeDate timer (e.g. ``workday_deadline(15)``) checked against the engine clock."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=event_value)
        return _fire_if_due(my_task, event_value)


class ClockedDuration(DurationTimerEventDefinition):
    """A timeDuration timer (ISO 8601 duration) started and checked on the engine clock."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            start = clock.now()
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        return _fire_if_due(my_task, event_value)


class ClockedCycle(CycleTimerEventDefinition):
    """A timeCycle timer (ISO 8601 repeating interval) advanced on the engine clock."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = TimerEventDefinition.get_datetime(event_value["next"])
            if next_event <= clock.now():
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


CLOCKED_TIMERS: dict[type, type] = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}


def clocked(definition: TimerEventDefinition) -> TimerEventDefinition:
    """Return the engine-clock twin of a parsed SpiffWorkflow timer definition."""
    twin = CLOCKED_TIMERS.get(type(definition))
    if twin is None:
        return definition
    return twin(definition.name, definition.expression, description=definition.description)
