"""Running the spawner: every minute in real time, one minute on demand, or a simulated span.

Real time: the replica holding the lock ticks at each minute boundary; the others check
every few seconds and take over within a minute of the holder dying. SIGTERM finishes the
tick under way (ticks are short), releases the lock so a replica takes over at once, and
exits. While the database or Redis is unreachable the loop waits and tries again (a tick is
safe to repeat); once they are back, the minutes it could not tick are missed slots, caught
up as each job's policy says.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tickwork import clock, recovery, retention
from tickwork.bundles.manifest import TIMEOUT_RANGE
from tickwork.grant_expiry import expire_grants
from tickwork.settings import get_settings
from tickwork.spawner.lock import REFRESH_EVERY_SECONDS, SpawnerLock
from tickwork.spawner.stranded import requeue_failed_slots
from tickwork.spawner.tick import MINUTE, Spawner, TickReport, floor_minute

log = logging.getLogger(__name__)

FOLLOWER_POLL_SECONDS = 5.0
OUTAGE_RETRY_SECONDS = 2.0  # the database or Redis unreachable: try again this often


class StopFlag:
    """Set by SIGTERM or SIGINT; the loop checks it between ticks."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping after the current tick", signum)
            self.event.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(max(0.0, seconds))


class ClockWatch:
    """Notices the wall clock jumping forward, against the monotonic clock.

    Executions that started before such a jump look overdue (their ``started_at`` is in the
    old time) while their worker is still running them; recovering them would run them twice.
    So after a jump the overdue check waits until every run started before it has either
    finished or passed the longest timeout plus the grace in real time.
    """

    JUMP_SECONDS = 60.0
    HOLD_SECONDS = TIMEOUT_RANGE[1] + recovery.DEADLINE_GRACE.total_seconds()

    def __init__(self) -> None:
        self.wall, self.mono = clock.now(), time.monotonic()
        self.hold_until = 0.0

    def recovery_allowed(self) -> bool:
        wall, mono = clock.now(), time.monotonic()
        ahead = (wall - self.wall).total_seconds() - (mono - self.mono) * clock.speed()
        if ahead > self.JUMP_SECONDS:
            log.warning("the wall clock jumped %.0f s forward; overdue checks wait", ahead)
            self.hold_until = mono + clock.real_seconds(self.HOLD_SECONDS)
        self.wall, self.mono = wall, mono
        return mono >= self.hold_until


def tick_and_recover(spawner: Spawner, slot: datetime, recover: bool = True) -> TickReport:
    """One tick, expire the grants due, requeue jobs a dead worker took but never started (or
    that failed before their run was recorded), queue recorded executions whose RQ job is gone,
    then (unless ``recover`` is False) retry or fail executions whose worker vanished."""
    report = spawner.tick(slot)
    expire_grants(spawner.sessions)
    spawner.stranded.sweep(spawner.redis, spawner.queue)
    with spawner.sessions() as session:
        requeue_failed_slots(session, spawner.redis, spawner.queue)
        spawner.unqueued.sweep(session, spawner.redis, spawner.queue)
    if not recover:
        return report
    with spawner.sessions() as session:
        stuck = recovery.overdue(session, spawner.redis)
        if stuck:
            backoff = get_settings().retry_backoff_seconds
            recovery.recover(session, spawner.redis, stuck, recovery.WORKER_DIED, backoff)
    return report


PRUNE_SECONDS_PER_TICK = 10.0  # real seconds of pruning after a tick, at most (and one batch)


def prune_old_executions(spawner: Spawner) -> int:
    """Executions past their retention (``TICKWORK_KEEP_EXECUTIONS_DAYS``), in batches for up to
    PRUNE_SECONDS_PER_TICK after the tick: enough to keep up with millions of runs a day. The
    real-time loop only, never a simulation, whose clock may cross months."""
    keep_days = get_settings().keep_executions_days
    if keep_days == 0:
        return 0
    before = retention.cutoff(keep_days)
    ends = time.monotonic() + PRUNE_SECONDS_PER_TICK
    pruned = 0
    with spawner.sessions() as session:
        for batch in retention.prune(session, before):
            pruned += batch
            if time.monotonic() >= ends:
                break
    if pruned:
        log.info("pruned %d executions older than %d days", pruned, keep_days)
    return pruned


def run_forever(
    sessions: sessionmaker[Session], redis: Redis, stop: StopFlag, on_tick: Callable[[TickReport], None]
) -> None:
    lock = SpawnerLock(redis)
    spawner = Spawner(sessions, redis, owner=lock.owner)
    watch = ClockWatch()
    next_slot = floor_minute(clock.now())
    try:
        while not stop.stopped:
            try:
                next_slot = _step(spawner, lock, stop, next_slot, on_tick, watch)
            except (SQLAlchemyError, RedisError) as error:
                log.warning("database or Redis unreachable (%s); trying again", error.__class__.__name__)
                stop.wait(OUTAGE_RETRY_SECONDS)
    finally:
        try:
            lock.release()
        except RedisError:
            pass  # Redis is away: the lock expires by itself


def _step(
    spawner: Spawner,
    lock: SpawnerLock,
    stop: StopFlag,
    next_slot: datetime,
    on_tick: Callable[[TickReport], None],
    watch: ClockWatch,
) -> datetime:
    """One turn of the loop; the next slot to tick."""
    recover = watch.recovery_allowed()
    now = clock.now()
    if now < next_slot:
        # Sleep towards the boundary (in real seconds: a test clock may run fast), refreshing
        # the lock if we hold it.
        stop.wait(min(clock.real_seconds((next_slot - now).total_seconds()), REFRESH_EVERY_SECONDS))
        if lock.held and not lock.refresh():
            log.warning("lost the spawner lock; another replica holds it now")
        return next_slot
    if lock.acquire():
        on_tick(tick_and_recover(spawner, floor_minute(now), recover=recover))
        prune_old_executions(spawner)
        return floor_minute(clock.now()) + MINUTE
    # A follower: look again soon, so a dead holder is replaced within a minute.
    stop.wait(FOLLOWER_POLL_SECONDS)
    return floor_minute(clock.now())


def simulate(
    sessions: sessionmaker[Session],
    redis: Redis,
    start: datetime,
    end: datetime,
    wait_for_lock: float = 600.0,
) -> Iterator[TickReport]:
    """Tick every minute from ``start`` (inclusive) to ``end`` (exclusive) with the clock moved.

    The lock is held for the whole span, so concurrent simulations of the same span take
    turns rather than interleave, and each slot is spawned once.
    """
    lock = SpawnerLock(redis)
    waited = 0.0
    while not lock.acquire():
        if waited >= wait_for_lock:
            raise TimeoutError("another spawner held the lock for the whole wait")
        threading.Event().wait(0.2)
        waited += 0.2
    spawner = Spawner(sessions, redis, owner=lock.owner)
    slot = floor_minute(start)
    try:
        with clock.frozen_at(slot) as move_to:
            while slot < end:
                move_to(slot)
                yield tick_and_recover(spawner, slot)
                lock.refresh()
                slot += MINUTE
    finally:
        lock.release()
