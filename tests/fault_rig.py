"""What the fault-injection tests (tests/test_faults_*.py, marked ``faults``) share.

- ``SimClock``: the clock file every Tickwork process started with ``TICKWORK_CLOCK_OFFSET_FILE``
  reads (``tickwork.clock``), so a test can run a real spawner at a sped-up clock and jump it;
- ``Rig``: real ``tickwork spawner`` and ``tickwork worker`` processes on the test's database and
  Redis, their output in files (a pipe nobody reads would block a chatty process);
- the checks every fault test makes: ``check_runs`` (every slot the catch-up policies call for
  ran exactly once, none twice, none left queued or running) and ``check_ledger`` (each
  account's ledger sums to its balance, the base charged once per execution that started);
- ``TcpProxy``: a loopback TCP proxy the test can cut, to make PostgreSQL unreachable.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select

from billing.models import Balance, LedgerEntry
from tickwork.clock import OffsetFileClock, set_offset_file
from tickwork.models import Execution, SpawnerTick
from tickwork.spawner.tick import CATCH_UP_MAX_SLOTS, CATCH_UP_WINDOW

from .conftest import Database
from .process_helpers import tickwork_command, tickwork_env, wait_for

MINUTE = timedelta(minutes=1)
POLICIES = {"all_job": "all", "latest_job": "latest", "none_job": "none"}  # the steady app's jobs
STARTED = ("succeeded", "failed", "timed_out")  # statuses of a run that started (and paid its base)


class SimClock:
    """A test clock file: ``set`` it to an instant and a speed, ``jump`` it, read ``now``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = OffsetFileClock(path)

    def set(self, instant: datetime, speed: float = 1.0) -> None:
        set_offset_file(self.path, instant, speed)

    def now(self) -> datetime:
        return self._reader.now()

    @property
    def speed(self) -> float:
        self._reader.now()
        return self._reader.speed

    def jump(self, delta: timedelta) -> None:
        self.set(self.now() + delta, self.speed)

    def wait_until(self, instant: datetime, timeout: float = 120) -> None:
        wait_for(f"the test clock to reach {instant}", lambda: self.now() >= instant, timeout, every=0.02)


@dataclass
class Rig:
    """Spawner and worker processes of one test; all stopped (or killed) at its end."""

    db: Database
    redis_url: str
    folder: Path
    clock: SimClock | None = None
    database_url: str | None = None  # what the processes use (a proxy's address), if not db.url
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        extra = dict(env)
        if self.clock is not None:
            extra["TICKWORK_CLOCK_OFFSET_FILE"] = str(self.clock.path)
        environment = tickwork_env(self.db, self.redis_url, **extra)
        if self.database_url:
            environment["DATABASE_URL"] = self.database_url
        log = (self.folder / f"{name}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            tickwork_command(*args), env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes.append(process)
        return process

    def spawner(self) -> subprocess.Popen[bytes]:
        return self.start("spawner", "spawner", "--quiet")

    def worker(self, processes: int = 2, **env: str) -> subprocess.Popen[bytes]:
        return self.start("worker", "worker", "--processes", str(processes), **env)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def alive(self, *processes: subprocess.Popen[bytes]) -> None:
        for process in processes:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}\n{self.logs()}"

    def stop(self, *processes: subprocess.Popen[bytes], timeout: float = 60) -> None:
        """SIGTERM (a warm stop), then wait; a clean exit is part of the test."""
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(f"{process.args!r} did not stop in {timeout} s\n{self.logs()}") from None
            assert code == 0, f"{process.args!r} exited with {code}\n{self.logs()}"

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def rig(
    db: Database, redis_url: str, folder: Path, clock: SimClock | None = None, database_url: str | None = None
) -> Iterator[Rig]:
    processes = Rig(db, redis_url, folder, clock, database_url)
    try:
        yield processes
    finally:
        processes.kill_all()


# --- waiting --------------------------------------------------------------------------------------


def last_tick(db: Database) -> datetime | None:
    with db.session() as session:
        return session.scalar(select(func.max(SpawnerTick.slot)))


def tick_slots(db: Database) -> list[datetime]:
    with db.session() as session:
        return list(session.scalars(select(SpawnerTick.slot).order_by(SpawnerTick.slot)))


def wait_for_ticks(db: Database, after: datetime | None, count: int = 1, timeout: float = 90) -> datetime:
    """Wait until ``count`` more ticks than ``after`` are recorded; the newest tick's slot."""

    def probe() -> datetime | None:
        slots = [slot for slot in tick_slots(db) if after is None or slot > after]
        return slots[-1] if len(slots) >= count else None

    return wait_for(f"{count} spawner ticks after {after}", probe, timeout, every=0.1)


def unfinished(db: Database, client: redis.Redis) -> int:
    """Jobs still in the queue plus executions still queued or running."""
    with db.session() as session:
        rows = session.scalar(
            select(func.count()).select_from(Execution).where(Execution.status.in_(("queued", "running")))
        )
    return int(client.llen("rq:queue:tickwork")) + int(rows or 0)


def wait_idle(db: Database, client: redis.Redis, timeout: float = 90) -> None:
    wait_for("the queue to drain", lambda: unfinished(db, client) == 0, timeout, every=0.2)


# --- what ran against what should have --------------------------------------------------------------


def policy_slots(ticks: list[datetime], policy: str) -> tuple[set[datetime], set[datetime]]:
    """(slots that must run, slots that may run) for an every-minute job, from the recorded ticks.

    Each recorded tick runs its own slot; the minutes between two ticks were missed, and the
    job's catch-up policy says which of them run: ``all`` each (the newest 48 within 24 hours),
    ``latest`` the newest, ``none`` none. A missed minute may also have run because a tick
    enqueued its jobs and died (or lost the database) before recording it; the next tick then
    finds them queued already. Such minutes are allowed, never required.
    """
    must: set[datetime] = set()
    may: set[datetime] = set()
    for position, slot in enumerate(ticks):
        must.add(slot)
        if position == 0:
            continue
        previous = ticks[position - 1]
        start = max(previous, slot - CATCH_UP_WINDOW - MINUTE)
        missed = [start + MINUTE * n for n in range(1, int((slot - start) / MINUTE))]
        may.update(missed)
        keep = {"all": CATCH_UP_MAX_SLOTS, "latest": 1, "none": 0}[policy]
        if keep:
            must.update(missed[-keep:])
    return must, may


@dataclass
class RunCheck:
    executions: int
    duplicate_deliveries: int
    by_source: Counter[str]
    dropped: int  # missed slots the policies did not run


def check_runs(db: Database, accounts: Iterable[int], jobs: dict[str, str] = POLICIES) -> RunCheck:
    """No slot ran twice; every slot the ticks and catch-up policies call for ran once and succeeded;
    nothing ran that they do not allow; nothing is left queued or running."""
    ticks = tick_slots(db)
    assert ticks, "the spawner recorded no tick"
    with db.session() as session:
        rows = session.execute(
            select(
                Execution.job, Execution.account_id, Execution.scheduled_for, Execution.status,
                Execution.source, Execution.skip_reason, Execution.id,
            )
        ).all()  # fmt: skip
    ran = [row for row in rows if row.skip_reason != "duplicate"]
    per_slot = Counter((row.job, row.account_id, row.scheduled_for) for row in ran)
    twice = {key: count for key, count in per_slot.items() if count > 1}
    assert not twice, f"slots run more than once: {sorted(twice.items())[:10]}"
    statuses = Counter(row.status for row in ran)
    if set(statuses) != {"succeeded"}:
        with db.session() as session:
            errors = session.execute(
                select(
                    Execution.id, Execution.job, Execution.status, Execution.attempts, Execution.error
                ).where(Execution.status != "succeeded", Execution.skip_reason.is_(None))
            ).all()
        raise AssertionError(f"every run succeeded: {statuses}; the others: {errors}")
    dropped = 0
    for job, policy in jobs.items():
        must, may = policy_slots(ticks, policy)
        dropped += len(may - must)
        for account in accounts:
            slots = {row.scheduled_for for row in ran if row.job == job and row.account_id == account}
            assert must <= slots, f"{job} for {account}: missing {sorted(must - slots)[:10]}"
            assert slots <= must | may, f"{job} for {account}: not due {sorted(slots - must - may)[:10]}"
            for row in ran:
                if row.job == job and row.account_id == account and row.scheduled_for in ticks:
                    assert row.source == "schedule", (job, row.scheduled_for, row.source)
    return RunCheck(
        executions=len(ran),
        duplicate_deliveries=len(rows) - len(ran),
        by_source=Counter(row.source for row in ran),
        dropped=dropped,
    )


def check_ledger(db: Database) -> dict[int, int]:
    """Each account's ledger sums to its balance; exactly one base charge per execution that
    started and none for any other. Returns the base charges by execution id."""
    with db.session() as session:
        entries = session.execute(
            select(LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.execution_id)
        ).all()
        balances = dict(session.execute(select(Balance.account_id, Balance.balance)).all())
        started = set(session.scalars(select(Execution.id).where(Execution.status.in_(STARTED))))
    sums: dict[int, int] = defaultdict(int)
    for entry in entries:
        sums[entry.account_id] += entry.amount
    assert dict(sums) == balances, "each account's ledger sums to its balance"
    bases = Counter(entry.execution_id for entry in entries if entry.kind == "execution")
    assert set(bases) == started, "a base charge for every execution that started, and only those"
    assert set(bases.values()) <= {1}, f"a base charged twice: {[i for i, n in bases.items() if n > 1]}"
    return dict(bases)


# --- a TCP proxy to cut -------------------------------------------------------------------------------


class TcpProxy:
    """Forwards a loopback port to ``target``; ``cut`` drops every connection and refuses new
    ones (as an unreachable server does), ``restore`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while this one was connecting
                    client.close()
                    upstream.close()
                    continue
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            sockets, self._sockets = self._sockets, set()
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
