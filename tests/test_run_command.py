"""``tickwork run`` (what ``make run`` starts) stops cleanly, and leaves nothing behind.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group. The embedded Redis
used to get it too and exit at once, under a worker (and RQ's scheduler process) still using
it: a traceback on every stop. Every child now runs in a session of its own; ``tickwork
run`` stops them and the embedded Redis last. And a ``tickwork run`` killed outright takes
its children with it (each asked Linux for SIGTERM when it dies).

Real processes on a temporary home (SQLite, embedded Redis), web on a free port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tickwork.embedded_redis import free_port

from .process_helpers import is_gone, tickwork_command, wait_for


def start_platform(home: Path) -> tuple[subprocess.Popen[str], Path, int]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SMTP_", "TWILIO_", "OPENAI_", "DATABASE_URL", "REDIS_URL"))
    }
    env["TICKWORK_HOME"] = str(home)
    port = free_port()
    log = home / "run.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            tickwork_command("run", "--port", str(port)),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, as a shell gives a foreground command
        )
    wait_for("tickwork run to start", lambda: "Tickwork is running" in log.read_text(), timeout=90)
    wait_for("the web server", lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60)
    return process, log, port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


def started_pids(text: str) -> dict[str, int]:
    return {name: int(pid) for name, pid in re.findall(r"started\s+(\w+) \(pid (\d+)\)", text)}


def redis_port(text: str) -> int:
    found = re.search(r"embedded redis-server at redis://127\.0\.0\.1:(\d+)/", text)
    assert found, text
    return int(found.group(1))


def port_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_stops_every_part_in_order_without_a_traceback(tmp_path: Path) -> None:
    process, log, web_port = start_platform(tmp_path / "home")
    time.sleep(5)  # the worker and RQ's scheduler process are up and polling Redis
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert process.wait(timeout=90) == 0
    text = log.read_text()
    assert "Traceback" not in text, text
    stops = [line for line in text.splitlines() if line.startswith("stopped")]
    assert stops == [
        "stopped   spawner", "stopped   worker", "stopped   web", "stopped   embedded redis-server",
    ], text  # fmt: skip
    for name, pid in started_pids(text).items():
        assert is_gone(pid), f"{name} still running"
    assert port_closed(redis_port(text)) and port_closed(web_port)


def test_a_killed_tickwork_run_takes_its_children_with_it(tmp_path: Path) -> None:
    process, log, web_port = start_platform(tmp_path / "home")
    process.kill()
    process.wait(timeout=10)
    text = log.read_text()
    pids = started_pids(text)
    assert set(pids) == {"spawner", "worker", "web"}
    wait_for("every child to stop", lambda: all(is_gone(pid) for pid in pids.values()), timeout=60)
    wait_for("the embedded Redis to stop", lambda: port_closed(redis_port(text)), timeout=30)
    assert port_closed(web_port)
