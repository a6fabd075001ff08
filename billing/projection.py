"""Projections: what a schedule costs per day, and how long an account's credit lasts.

Runs per day is an exact fraction (a Monday-to-Friday schedule averages 5/7 of its weekday
runs), so the projection is exact before it is rounded once, to whole micro-credits.
"""

from __future__ import annotations

from fractions import Fraction

from billing import MICRO_PER_CREDIT


def micro_credits(credits: int | Fraction) -> int:
    """Whole micro-credits for a credit amount, rounded half up."""
    exact = Fraction(credits) * MICRO_PER_CREDIT
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


def daily_micro_credits(runs_per_day: Fraction | int, credits_per_run: int) -> int:
    """Projected micro-credits per day for ``runs_per_day`` runs at ``credits_per_run`` credits."""
    if credits_per_run < 0:
        raise ValueError("credits per run cannot be negative")
    return micro_credits(Fraction(runs_per_day) * credits_per_run)


def days_left(balance_micro: int, overdraft_micro: int, daily_micro: int) -> Fraction | None:
    """Days until the balance reaches the overdraft limit at ``daily_micro`` a day.

    ``None`` means the credit never runs out (nothing is scheduled).
    """
    if daily_micro <= 0:
        return None
    spendable = balance_micro + overdraft_micro
    return max(Fraction(0), Fraction(spendable, daily_micro))
