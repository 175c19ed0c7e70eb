"""What every `relief` command shares: settings and engine, output, refusals."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from engine.errors import EngineError
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

pass_json = click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档 (print one JSON document)")


class Context:
    """What every command shares: the settings, and the engine built from them on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._engine: CaseEngine | None = None

    @property
    def engine(self) -> CaseEngine:
        """The case engine on the configured database (built once per command)."""
        if self._engine is None:
            from engine.cases.runtime import CaseEngine

            self._engine = CaseEngine(self.settings)
        return self._engine


pass_context = click.make_pass_decorator(Context)


def acting(ctx: Context, username: str | None) -> Any:
    """The principal of the active user named by --by (None: the operator at the shell); NotFound otherwise."""
    from engine.errors import NotFound

    if username is None:
        return None
    who = ctx.engine.accounts.principal_named(username)
    if who is None:
        raise NotFound(f"用户 {username} 不存在或已停用")
    return who


def emit(as_json: bool, payload: Any, human: Callable[[Any], str] | None = None) -> None:
    """Print the result: one JSON document, or the human-readable text."""
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(human(payload) if human else json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def fail(as_json: bool, payload: dict[str, Any], text: str) -> None:
    """Print a refusal and exit with status 1."""
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(text, err=True)
    sys.exit(1)


def handles_refusals(command: Callable[..., None]) -> Callable[..., None]:
    """Turn engine refusals into a JSON/Chinese error and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from engine.bpmn.loader import BpmnRejected  # imported when a command runs: `relief --help` stays quick

        as_json = bool(kwargs.get("as_json"))
        try:
            command(*args, **kwargs)
        except BpmnRejected as err:
            fail(as_json, {"error": "rejected", "message": "BPMN 校验未通过",
                           "problems": [p.as_dict() for p in err.problems]},
                 "BPMN 校验未通过：\n" + "\n".join(f"  {p}" for p in err.problems))
        except EngineError as err:
            details = "".join(f"\n  {k}: {'；'.join(v)}" for k, v in getattr(err, "errors", {}).items())
            details += "".join(f"\n  样例「{r.name}」{r.message}" for r in getattr(err, "results", []))
            fail(as_json, err.as_dict(), f"错误：{err.message}{details}")

    return wrapper
