"""``tickwork bench``: benchmarks that report ratios against a baseline run side by side."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from tickwork.bench.timing import Comparison


def _schedule() -> Comparison:
    from tickwork.bench.schedules import compare

    return compare()


BENCHMARKS: dict[str, Callable[[], Comparison]] = {"schedule": _schedule}


@click.command()
@click.argument("name", type=click.Choice(["all", *BENCHMARKS]), default="all")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def bench(name: str, as_json: bool) -> None:
    """Run a benchmark (or all) and print how it compares with its baseline."""
    chosen = BENCHMARKS if name == "all" else {name: BENCHMARKS[name]}
    results = [run() for run in chosen.values()]
    if as_json:
        click.echo(json.dumps([result.as_dict() for result in results], indent=2))
    else:
        for result in results:
            click.echo(result.line())
