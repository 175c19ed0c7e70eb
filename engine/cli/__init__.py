"""The `relief` command line: deploy the process, start cases, work tasks, run the deadline jobs.

Every command takes `--json` and then prints exactly one JSON document on stdout; refusals
exit non-zero (1 for refused input, 2 for usage errors) with the reason in that document.
Settings come from the `RELIEF_*` environment (`engine.settings.Settings.from_environ`).
"""

from __future__ import annotations

import click

from engine.cli import admin, archive, audit, backup, cases, catalog, dashboard, devices, feedback
from engine.cli.common import Context
from engine.settings import Settings, SettingsError


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """社会救助联动平台 (DB32/T 4012-2021) — engine administration."""
    if ctx.obj is None:
        try:
            ctx.obj = Context(Settings.from_environ())
        except SettingsError as err:
            raise click.UsageError(str(err)) from err


for _command in (*admin.COMMANDS, *audit.COMMANDS, *cases.COMMANDS, *catalog.COMMANDS, *feedback.COMMANDS,
                 *archive.COMMANDS, *devices.COMMANDS, *backup.COMMANDS, *dashboard.COMMANDS):
    main.add_command(_command)
