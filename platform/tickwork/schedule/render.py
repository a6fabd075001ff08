"""Canonical text for a schedule's fields: short, stable, and faithful to the ``*`` flag.

A field is rebuilt from its value set, so ``0,15,30,45`` and ``0-59/15`` print alike, but a
field that started with ``*`` keeps a leading ``*`` (``*``, ``*/15`` or ``*/15,5``) because
that flag decides whether the schedule is fixed-time or follows real time across DST.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def runs(values: Iterable[int]) -> list[list[int]]:
    """Split sorted values into runs of consecutive numbers."""
    found: list[list[int]] = []
    for value in values:
        if found and found[-1][-1] + 1 == value:
            found[-1].append(value)
        else:
            found.append([value])
    return found


def render_plain(values: Collection[int], high: int, show: Callable[[int], str] = str) -> str:
    """A value set as ``a-b``, ``a-b/s`` (a whole-field progression) or a list with 3+ runs as ranges."""
    ordered = sorted(values)
    if len(ordered) >= 3:
        steps = {b - a for a, b in zip(ordered, ordered[1:], strict=False)}
        if len(steps) == 1:
            (step,) = steps
            first, last = ordered[0], ordered[-1]
            if step == 1:
                return f"{show(first)}-{show(last)}"
            end = high if last + step > high else last
            return f"{show(first)}-{show(end)}/{step}"
    parts: list[str] = []
    for run in runs(ordered):
        if len(run) >= 3:
            parts.append(f"{show(run[0])}-{show(run[-1])}")
        else:
            parts.extend(show(value) for value in run)
    return ",".join(parts)


def render_field(
    values: Collection[int],
    star: bool,
    low: int,
    high: int,
    star_high: int | None = None,
    fold: Callable[[int], int] = lambda value: value,
) -> str:
    """Render one field; a ``*``-leading field starts with ``*`` or ``*/s`` followed by any extras.

    ``star_high`` and ``fold`` describe what ``*`` spans before folding into ``values`` (cron's
    day-of-week ``*`` spans 0-7 and folds 7 onto 0, Sunday).
    """
    chosen = set(values)
    if not star:
        return render_plain(chosen, high)
    top = high if star_high is None else star_high
    for step in range(1, top - low + 2):
        progression = {fold(value) for value in range(low, top + 1, step)}
        if progression <= chosen:
            head = "*" if step == 1 else f"*/{step}"
            rest = chosen - progression
            return f"{head},{render_plain(rest, high)}" if rest else head
    raise ValueError(f"a *-leading field must hold its first value {low}: {sorted(chosen)}")


def render_days(weekdays: Collection[int]) -> str:
    """Weekdays (0 = Monday) as ``mon-fri`` style ranges of 3+ days or ``sat,sun`` style lists."""
    parts: list[str] = []
    for run in runs(sorted(weekdays)):
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return ",".join(parts)


def render_minute(values: Collection[int], star: bool) -> str:
    """The H:MM minute field: like any field, but a list of lone minutes is zero-padded.

    ``9:05`` and ``9:00,30`` read as times; ``*/15,5`` and ``0-59/15`` are left as written.
    """
    text = render_field(values, star, 0, 59)
    parts = text.split(",")
    if all(part.isdigit() for part in parts):
        return ",".join(part.zfill(2) for part in parts)
    return text
