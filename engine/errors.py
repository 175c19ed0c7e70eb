"""Errors the engine raises to its callers (CLI, web, scheduler), each with a Chinese message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class EngineError(Exception):
    """Base class: `message` is shown to the user as is."""

    code = "engine_error"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    def as_dict(self) -> dict[str, object]:
        """Return the error as a JSON-ready dict."""
        return {"error": self.code, "message": self.message}


class NotFound(EngineError):
    """The case, task or definition does not exist (or is outside the caller's scope)."""

    code = "not_found"


class Forbidden(EngineError):
    """The caller may see the object but not do this with it."""

    code = "forbidden"


class NotDeployed(EngineError):
    """No version of the process has been deployed yet."""

    code = "not_deployed"


class TaskConflict(EngineError):
    """The task is no longer open: someone else completed it, or the case moved on."""

    code = "conflict"


class InvalidData(EngineError):
    """Submitted data failed validation; `errors` maps each field to its messages."""

    code = "invalid"

    def __init__(self, message: str, errors: Mapping[str, Sequence[str]]):
        super().__init__(message)
        self.errors = {k: list(v) for k, v in errors.items()}

    def as_dict(self) -> dict[str, object]:
        """Return the error and its field errors as a JSON-ready dict."""
        return {**super().as_dict(), "errors": self.errors}


class WorkflowFailure(EngineError):
    """A script or expression in the process failed at run time; nothing was saved."""

    code = "workflow_error"
