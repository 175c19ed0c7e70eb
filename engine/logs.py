"""The platform's logs: plain text, or one JSON object a line (RELIEF_LOG_FORMAT=json, production's default).

`configure` sets up the root logger of a process (the web app's workers, `relief scheduler run`);
`engine_action` is the one line the engine writes per recorded action — a case event or an audit entry —
with its kind, name, actor (a staff account or `system`) and target (a case number or a record's key),
never the event's data or the audit entry's details, which may hold personal data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ACTIONS = logging.getLogger("relief.engine")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a record carries besides these is put in the JSON line as given (`extra=`).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_OURS = "relief_handler"


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC), level, logger, message, the `extra=` fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str, level: int = logging.INFO) -> logging.Handler:
    """Send the process's log records to stderr in `log_format` ("json" or "text"); calling it again reformats."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _OURS, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level)
    # SpiffWorkflow logs every task's state change at INFO; the engine's own action lines say what matters.
    for chatty in ("apscheduler", "spiff", "spiff.workflow", "spiff.task"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return handler


def engine_action(kind: str, action: str, actor: str, target: str | None = None, **facts: Any) -> None:
    """Log one action the engine recorded: `kind` "case_event" or "audit", its type/action name, who, on what."""
    ACTIONS.info("%s %s by %s on %s", kind, action, actor, target or "-",
                 extra={"kind": kind, "action": action, "actor": actor, "target": target, **facts})
