"""``tickwork schedule``: check, preview and price schedule expressions.

Bad input (a schedule, ``--after`` or ``--credits``) exits with status 2 and a message: schedule
and ``--after`` problems raise ``BadInput``, which the root group reports; click reports its own.
"""

from __future__ import annotations

import json
from datetime import datetime
from fractions import Fraction

import click

from billing import MICRO_PER_CREDIT
from billing.projection import daily_micro_credits
from tickwork import clock
from tickwork.errors import BadInput
from tickwork.schedule import EASTERN, parse

DAYS_PER_MONTH = 30  # the "per 30 days" projection


@click.group()
def schedule() -> None:
    """Check, preview and price schedule expressions."""


@schedule.command()
@click.argument("expr")
def check(expr: str) -> None:
    """Print EXPR's canonical form, then what it means in English."""
    parsed = parse(expr)
    click.echo(parsed.canonical)
    click.echo(parsed.describe())


@schedule.command("next")
@click.argument("expr")
@click.option("--after", "after_text", metavar="ISO", help="Start after this time (no offset means Eastern).")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many runs.")
def next_(expr: str, after_text: str | None, count: int) -> None:
    """Print EXPR's next runs, one per line, in Eastern time with the UTC offset."""
    parsed = parse(expr)
    after = clock.now() if after_text is None else parse_after(after_text)
    for instant in parsed.next_runs(after, count):
        click.echo(instant.astimezone(EASTERN).isoformat(timespec="seconds"))


@schedule.command()
@click.argument("expr")
@click.option(
    "--credits", "credits_per_run", required=True, type=click.IntRange(1, 10), help="Credits per run."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def cost(expr: str, credits_per_run: int, as_json: bool) -> None:
    """Project what EXPR costs at --credits per run: runs and credits per day and per 30 days."""
    parsed = parse(expr)
    daily_micro = daily_micro_credits(parsed.runs_per_day, credits_per_run)
    runs = parsed.runs_per_day
    per_day = Fraction(daily_micro, MICRO_PER_CREDIT)
    per_month = Fraction(DAYS_PER_MONTH * daily_micro, MICRO_PER_CREDIT)
    if as_json:
        payload = {
            "runs_per_day": _json_number(runs, 4),
            "credits_per_day": _json_number(per_day, 6),
            "credits_per_30_days": _json_number(per_month, 6),
        }
        click.echo(json.dumps(payload))
        return
    click.echo(f"runs per day: {_human(runs)}")
    click.echo(f"credits per day: {_human(per_day)}")
    click.echo(f"credits per {DAYS_PER_MONTH} days: {_human(per_month)}")


def parse_after(text: str) -> datetime:
    """An ISO 8601 ``--after``; without an offset it is Eastern wall time (fold=0, PEP 495)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f'--after "{text}" is not an ISO 8601 date and time; write e.g. 2026-03-07T12:00-05:00 '
            "(without an offset it means Eastern time)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=EASTERN, fold=0)
    return value


def _human(value: Fraction) -> str:
    """1,440 for whole numbers, else two decimals: 34.29."""
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.2f}"


def _json_number(value: Fraction, places: int) -> int | float:
    """A JSON integer when whole, else a number rounded to ``places`` decimals."""
    if value.denominator == 1:
        return value.numerator
    return round(float(value), places)
