"""Prometheus metrics at /metrics, read from the database and Redis at each scrape.

Nothing is counted in the web process itself (gunicorn runs several, and the work happens in
spawners and workers), so every figure comes from the shared state. The figures are
platform-wide aggregates with no account's data in them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, g
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.ledger import reporting_day
from billing.models import DailyRollup
from billing.reports import SPENDING_KINDS
from tickwork import clock
from tickwork.models import EXECUTION_STATUSES
from tickwork.queues import connection
from tickwork.reads import platform_health

bp = Blueprint("metrics", __name__)
MICRO = 1_000_000


class TickworkCollector(Collector):
    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        health = platform_health(self.session, connection())
        tick = health.last_tick
        last = {
            "lag_seconds": ("How late the last tick started after its minute.", "lag_ms", 1000),
            "due": ("Due (app, job, account) slots in the last tick.", "due", 1),
            "enqueued": ("Jobs the last tick enqueued.", "enqueued", 1),
            "duration_seconds": ("How long the last tick took.", "duration_ms", 1000),
        }
        for suffix, (documentation, field, scale) in last.items():
            value = 0 if tick is None else getattr(tick, field) / scale
            yield _gauge(f"tickwork_spawner_last_tick_{suffix}", documentation, value)
        age = -1 if health.seconds_since_tick is None else health.seconds_since_tick
        yield _gauge("tickwork_spawner_last_tick_age_seconds", "Seconds since the last tick finished.", age)
        yield _gauge("tickwork_queue_depth", "Jobs waiting in the RQ queue.", health.queue_depth)
        yield _gauge("tickwork_workers", "RQ worker processes registered in Redis.", health.workers)
        executions = GaugeMetricFamily(
            "tickwork_executions_last_hour",
            "Executions scheduled in the last hour, by status.",
            labels=["status"],
        )
        for status in EXECUTION_STATUSES:
            executions.add_metric([status], health.executions_last_hour.get(status, 0))
        yield executions
        credits = GaugeMetricFamily(
            "tickwork_credits_charged_today", "Credits charged today (Eastern day), by kind.", labels=["kind"]
        )
        today = reporting_day(clock.now())
        query = (
            select(DailyRollup.kind, func.sum(DailyRollup.amount))
            .where(DailyRollup.day == today, DailyRollup.kind.in_(SPENDING_KINDS))
            .group_by(DailyRollup.kind)
        )
        for kind, amount in self.session.execute(query):
            credits.add_metric([kind], -int(amount or 0) / MICRO)
        yield credits


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


@bp.get("/metrics")
def metrics() -> Any:
    registry = CollectorRegistry()
    registry.register(TickworkCollector(g.db))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
