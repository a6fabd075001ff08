"""Server-rendered charts: stacked bars of credits per day, laid out here, drawn as inline SVG.

No JavaScript and nothing fetched from elsewhere: the template turns a ``Chart`` into ``<rect>``
elements, each with a ``<title>`` the browser shows on hover and screen readers read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16")
OTHER_COLOR = "#94a3b8"
MAX_SERIES = len(PALETTE)  # more series than colours: the smallest are drawn together as "other"
MAX_DAYS = 92

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: float = WIDTH - LEFT - RIGHT
    plot_height: float = HEIGHT - TOP - BOTTOM
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str, float]] = field(default_factory=list)  # name, colour, total credits
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    total: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.bars


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power


def number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) or value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def stacked_by_day(title: str, series: dict[date, dict[str, float]], first: date, last: date) -> Chart:
    """Credits per day (``first``..``last``), each day's bar stacked by series (app or kind).

    Negative amounts (refunds) are left out of the bars; the legend's totals include them.
    """
    chart = Chart(title=title)
    if last < first:
        return chart
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals: dict[str, float] = {}
    for day in days:
        for name, amount in series.get(day, {}).items():
            totals[name] = totals.get(name, 0.0) + amount
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    kept = ranked if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    colors = {name: PALETTE[n] for n, name in enumerate(kept)}
    if len(ranked) > len(kept):
        colors["other"] = OTHER_COLOR

    def key(name: str) -> str:
        return name if name in kept else "other"

    stacked: list[dict[str, float]] = []
    for day in days:
        parts: dict[str, float] = {}
        for name, amount in series.get(day, {}).items():
            if amount > 0:
                parts[key(name)] = parts.get(key(name), 0.0) + amount
        stacked.append(parts)
    peak = max((sum(parts.values()) for parts in stacked), default=0.0)
    top = nice_ceiling(peak)
    slot = chart.plot_width / len(days)
    bar_width = max(1.0, slot * 0.72)
    order = [*kept, "other"]
    for index, (day, parts) in enumerate(zip(days, stacked, strict=True)):
        base = chart.top + chart.plot_height
        x = chart.left + index * slot + (slot - bar_width) / 2
        for name in order:
            amount = parts.get(name, 0.0)
            if amount <= 0:
                continue
            height = amount / top * chart.plot_height
            base -= height
            label = f"{day:%b} {day.day}: {name} {number(amount)} credits"
            chart.bars.append(
                Bar(round(x, 2), round(base, 2), round(bar_width, 2), round(height, 2), colors[name], label)
            )
    every = max(1, math.ceil(len(days) / 10))
    chart.x_ticks = [
        Tick(round(chart.left + (n + 0.5) * slot, 2), f"{day:%b} {day.day}")
        for n, day in enumerate(days)
        if n % every == 0
    ]
    chart.y_ticks = [
        Tick(round(chart.top + chart.plot_height * (1 - step / 4), 2), number(top * step / 4))
        for step in range(5)
    ]
    other_total = sum(amount for name, amount in totals.items() if name not in kept)
    chart.legend = [(name, colors[name], totals[name]) for name in kept]
    if "other" in colors:
        chart.legend.append(("other", OTHER_COLOR, other_total))
    chart.total = sum(totals.values())
    return chart
