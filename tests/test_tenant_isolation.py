"""A job of account A cannot see or change account B's data, state, variables, secrets or outbox.

Accounts A and B both install the fixture app tests/fixtures/fault_apps/tenant and each get
records, state, variables and secrets of their own (B's named to tempt A). The real worker
runs A's ``snoop`` job, which tries every way the job context offers to reach B's things;
its result says what it saw, and the database says what it changed.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from sqlalchemy import select

from billing.ledger import balance_of
from tickwork.context.settings_store import SecretBox, set_secret, set_variable
from tickwork.data import Collection
from tickwork.models import Execution, Message
from tickwork.runner import enqueue_run
from tickwork.settings import get_settings
from tickwork.state import AppState

from .conftest import Database
from .process_helpers import install_fault_app, installation_id, run


@pytest.fixture
def tenants(db: Database, redis_conn: redis.Redis) -> dict[str, int]:
    """Accounts A and B with the tenant app and things of their own; the ids the test needs."""
    box = SecretBox(get_settings().secret_key)
    with db.session() as session:
        app, ids = install_fault_app(session, "tenant", "A", "B")
        a, b = ids["A"], ids["B"]
        Collection(session, a, "notes").insert_many([{"owner": "A", "n": 1}, {"owner": "A", "n": 2}])
        b_notes = Collection(session, b, "notes").insert_many([{"owner": "B", "n": n} for n in (1, 2, 3)])
        Collection(session, a, "scratch").insert_many([{"owner": "A"}, {"owner": "A"}])
        b_scratch = Collection(session, b, "scratch").insert_many([{"owner": "B"}, {"owner": "B"}])
        a_installation, b_installation = (
            installation_id(session, app.id, a),
            installation_id(session, app.id, b),
        )
        set_variable(session, a_installation, "REGION", "a-region")
        set_variable(session, b_installation, "REGION", "b-region")
        set_variable(session, b_installation, "B_VARIABLE", "b-only variable")
        set_secret(session, box, a_installation, "A_ONLY", "a-secret")
        set_secret(session, box, b_installation, "A_ONLY", "B's value under A's name")
        set_secret(session, box, b_installation, "B_ONLY", "b-secret")
        session.commit()
    AppState(db.sessions, app.id, a).set("shared", "A's")
    AppState(db.sessions, app.id, b).set("shared", "B's")
    AppState(db.sessions, app.id, b).set("b_only", {"secret": "plan"})
    return {"app": app.id, "a": a, "b": b, "b_note": b_notes[0], "b_scratch": b_scratch[0]}


def test_a_job_of_one_account_sees_and_changes_only_that_account(
    db: Database, redis_conn: redis.Redis, redis_url: str, tenants: dict[str, int]
) -> None:
    app, a, b = tenants["app"], tenants["a"], tenants["b"]
    with db.session() as session:
        b_balance_before = balance_of(session, b)
    execution_id = enqueue_run(
        db.sessions, redis_conn, app_id=app, job="snoop", account_id=a, source="manual",
        params={"other_record_id": tenants["b_note"], "other_scratch_id": tenants["b_scratch"]},
    )  # fmt: skip
    worker = run(db, redis_url, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr[-3000:]

    with db.session() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        assert execution.status == "succeeded", execution.error
        seen: dict[str, Any] = execution.result or {}
    assert seen["account"] == a

    # What the job saw: its own account's things, nothing of B's.
    assert seen["find_all"] == seen["find_none"] == ["A", "A"]
    assert seen["count"] == seen["count_all"] == 2
    assert seen["get_other"] is None and seen["scratch_other"] is None
    assert seen["find_other_id"] == seen["find_other_owner"] == seen["find_other_in"] == []
    assert seen["state_shared"] == "A's" and seen["state_other"] == "missing"
    assert seen["state_all"] == {"shared": "A's"}
    assert seen["env"] == {"REGION": "a-region"}
    assert seen["secret_names"] == ["A_ONLY"] and seen["own_secret"] == "a-secret"
    assert "other_secret" not in seen and "B_ONLY" in seen["other_secret_error"]
    assert "b-secret" not in str(seen)
    # What it changed: with where={} only its own rows.
    assert (seen["updated"], seen["updated_other_id"]) == (2, 0)
    assert (seen["deleted"], seen["deleted_other_id"]) == (2, 0)
    assert (seen["email"], seen["sms"]) == ("outbox", "outbox")

    with db.session() as session:
        b_notes = Collection(session, b, "notes").find(order_by="n")
        assert [(note["owner"], note["n"]) for note in b_notes] == [("B", 1), ("B", 2), ("B", 3)]
        assert not any("touched_by" in note or "hijacked" in note for note in b_notes)
        a_notes = Collection(session, a, "notes").find()
        assert [note.get("touched_by") for note in a_notes] == [a, a]
        assert Collection(session, b, "scratch").count() == 2
        assert Collection(session, a, "scratch").count() == 0

        messages = session.scalars(select(Message)).all()
        assert sorted(m.channel for m in messages) == ["email", "sms"]
        assert {(m.account_id, m.execution_id, m.transport) for m in messages} == {
            (a, execution_id, "outbox")
        }
        assert balance_of(session, b) == b_balance_before, "nothing of A's run is billed to B"

    assert AppState(db.sessions, app, b).all() == {"shared": "B's", "b_only": {"secret": "plan"}}
    assert AppState(db.sessions, app, a).all() == {"shared": "written by A"}
