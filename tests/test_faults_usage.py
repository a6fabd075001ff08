"""A worker SIGKILLed in the middle of a job that has sent an SMS and called an AI model.

Real processes and servers: ``tickwork worker`` runs the fixture app
tests/fixtures/fault_apps/usage against the local Twilio-shaped and OpenAI-compatible
servers. Its job texts, asks the model, then holds; the test SIGKILLs the worker process
running it. The supervisor retries the execution (retries = 1) in a new process, which runs
the job from the top: the same SMS and the same question again. Messages and AI calls are
idempotent per execution (docs/decisions.md), so Twilio gets one message, the model one
request, and the ledger one SMS charge, one AI charge and one base charge.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from billing.models import LedgerEntry
from tests.servers.fixtures import Services
from tickwork.context.settings_store import set_variable
from tickwork.models import Execution
from tickwork.spawner.loop import simulate

from .conftest import Database
from .fault_rig import check_ledger
from .process_helpers import finish, install_fault_app, installation_id, start, wait_for

pytestmark = pytest.mark.faults

SLOT = datetime(2026, 1, 5, 4, 30, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def services(s: Services) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": s.openai.api_key,
        "OPENAI_BASE_URL": s.openai.base_url,
        "TWILIO_ACCOUNT_SID": s.twilio.account_sid,
        "TWILIO_AUTH_TOKEN": s.twilio.auth_token,
        "TWILIO_FROM_NUMBER": s.twilio.from_number,
        "TWILIO_BASE_URL": s.twilio.base_url,
    }


def asked(folder: Path) -> list[tuple[int, int]]:
    """(execution id, pid) of every run that got past its SMS and AI call, oldest first."""
    files = sorted(folder.glob("asked-*"), key=lambda path: path.stat().st_mtime_ns)
    return [(int(parts[1]), int(parts[2])) for parts in (path.name.split("-") for path in files)]


def test_a_worker_killed_after_an_sms_and_an_ai_call_charges_them_once(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path, services_env: Services
) -> None:
    with db.session() as session:
        app, ids = install_fault_app(session, "usage", "Acme")
        set_variable(session, installation_id(session, app.id, ids["Acme"]), "FAULTS_DIR", str(tmp_path))
        session.commit()
    assert [r.enqueued for r in simulate(db.sessions, redis_conn, SLOT, SLOT + timedelta(minutes=1))] == [1]

    worker = start(db, redis_url, "worker", "--burst", **services(services_env))
    try:
        ((execution_id, first_pid),) = wait_for("the job to text and ask", lambda: asked(tmp_path), 60)
        assert len(services_env.twilio.messages) == 1 and len(services_env.openai.chat_requests) == 1
        os.kill(first_pid, signal.SIGKILL)
        runs = wait_for("the retry to text and ask again", lambda: asked(tmp_path)[1:], 60)
        assert runs[0][0] == execution_id and runs[0][1] != first_pid
        (tmp_path / "release").touch()
        code, _out, err = finish(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate(timeout=10)
    assert code == 0, err[-3000:]

    assert len(services_env.twilio.messages) == 1, "the retry did not text again"
    assert len(services_env.openai.chat_requests) == 1, "the retry got the stored answer"
    with db.session() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        assert (execution.status, execution.attempts) == ("succeeded", 2)
        assert execution.result and execution.result["answer"]
        kinds = Counter(
            session.scalars(select(LedgerEntry.kind).where(LedgerEntry.execution_id == execution_id))
        )
        charged = -sum(
            session.scalars(select(LedgerEntry.amount).where(LedgerEntry.execution_id == execution_id))
        )
        assert execution.credits_charged == charged
        assert session.scalar(select(Execution.id).where(Execution.id != execution_id)) is None
    assert kinds == Counter({"execution": 1, "sms": 1, "ai": 1}), "base, SMS and AI charged once each"
    check_ledger(db)
