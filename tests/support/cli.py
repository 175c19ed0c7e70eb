"""The `relief` command line: in-process through click's CliRunner (most tests), or as a real
subprocess (a few smoke tests of the installed entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli import main
from engine.cli.common import Context
from tests.support.db import settings_for

RELIEF = Path(sys.executable).parent / "relief"


def relief(*args: str, database_url: str, expect: int = 0, input: str | None = None,
           **settings: Any) -> Any:
    """Run `relief --json ...` in-process; assert the exit status and that stdout is exactly one JSON document."""
    context = Context(settings_for(database_url, **settings))
    result = CliRunner().invoke(main, [*args, "--json"], input=input, obj=context, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return json.loads(result.stdout)


def relief_process(*args: str, database_url: str, expect: int = 0, input: str | None = None,
                   env: dict[str, str] | None = None) -> Any:
    """Run the installed `relief --json ...` as a subprocess, the way operators run it."""
    environment = {**os.environ, "RELIEF_DATABASE_URL": database_url, **(env or {})}
    done = subprocess.run([str(RELIEF), *args, "--json"], capture_output=True, text=True, env=environment,
                          input=input, timeout=120)
    assert done.returncode == expect, done.stderr + done.stdout
    return json.loads(done.stdout)
