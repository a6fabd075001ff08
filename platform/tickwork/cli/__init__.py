"""The ``tickwork`` command line.

Each area adds its own group from a module of this package. Every command answers bad
input with a clear message on stderr and a non-zero exit, never a traceback: errors derived
from ``TickworkError`` are turned into messages here, in one place.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from tickwork import __version__
from tickwork.errors import TickworkError


class TickworkGroup(click.Group):
    """A click group that reports Tickwork's own errors as one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TickworkError as error:
            click.echo(f"tickwork: {error}", err=True)
            sys.exit(error.exit_code)


@click.group(cls=TickworkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tickwork")
def main() -> None:
    """Tickwork: custom apps with background jobs on Eastern-time schedules."""


def _register() -> None:
    from tickwork.cli import (
        accounts_cmd,
        apikeys_cmd,
        apps_cmd,
        bench_cmd,
        billing_cmd,
        build_cmd,
        db_cmd,
        executions_cmd,
        run_cmd,
        schedule_cmd,
        spawner_cmd,
        users_cmd,
        web_cmd,
        worker_cmd,
    )

    main.add_command(schedule_cmd.schedule)
    main.add_command(apps_cmd.apps)
    main.add_command(db_cmd.db)
    main.add_command(run_cmd.run)
    main.add_command(bench_cmd.bench)
    main.add_command(spawner_cmd.spawner)
    main.add_command(worker_cmd.worker)
    main.add_command(accounts_cmd.accounts)
    main.add_command(executions_cmd.executions)
    main.add_command(billing_cmd.billing)
    main.add_command(web_cmd.web)
    main.add_command(users_cmd.users)
    main.add_command(apikeys_cmd.apikeys)
    main.add_command(build_cmd.build)


_register()
