"""Web test fixtures: the Flask app on this test's database lane and real Redis, and the cast.

``cast`` builds two accounts with the example apps installed and every kind of principal the
authorization rules distinguish, each with a password and an API key:
owner and member of account A ("acme"), owner of account B ("globex"), and staff.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from billing.ledger import Posting, post
from tests.conftest import Database
from tickwork import apikeys, clock
from tickwork.accounts import create_account, install
from tickwork.catalog import sync_catalog
from tickwork.models import Account, App, User
from tickwork.settings import get_settings, reset_settings
from tickwork.users import create_user

PASSWORD = "correct horse battery"
CATALOG = ("order-digest", "appointment-reminders", "nightly-cleanup")


@dataclass(frozen=True)
class Person:
    email: str
    key: str
    account: str | None  # the account slug; None for staff

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Cast:
    owner: Person
    member: Person
    other_owner: Person
    staff: Person


@pytest.fixture
def web_app(db: Database, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    from tickwork.queues import reset_connections
    from tickwork.web import create_app

    reset_settings()
    reset_connections()
    app = create_app({"TESTING": True})
    yield app
    reset_connections()


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


@pytest.fixture
def cast(db: Database, web_app: Flask) -> Cast:
    with db.session() as session:
        sync_catalog(session, get_settings().apps_dir)
        people = {}
        for slug, name in (("acme", "Acme"), ("globex", "Globex")):
            account = create_account(session, name)
            assert account.slug == slug
            for app_slug in CATALOG:
                app = session.query(App).filter_by(slug=app_slug).one()
                install(session, account, app)
            post(session, Posting(key=f"seed:{slug}", account_id=account.id, kind="grant",
                                  amount=1_000 * 1_000_000, at=clock.now()))  # fmt: skip
        acme = session.query(Account).filter_by(slug="acme").one()
        globex = session.query(Account).filter_by(slug="globex").one()
        users = {
            "owner": create_user(session, "owner@acme.test", PASSWORD, account=acme, role="owner"),
            "member": create_user(session, "member@acme.test", PASSWORD, account=acme, role="member"),
            "other_owner": create_user(session, "owner@globex.test", PASSWORD, account=globex, role="owner"),
            "staff": create_user(session, "staff@tickwork.test", PASSWORD, staff=True),
        }
        for role, user in users.items():
            _, plain = apikeys.create_key(session, user, f"{role} key")
            people[role] = Person(user.email, plain, _slug(session, user))
        session.commit()
    return Cast(**people)


def _slug(session: object, user: User) -> str | None:
    return user.account.slug if user.account else None


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form (the CSRF token comes from the login page)."""
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of a signed-in session, read from a page's form."""
    html = client.get(path).get_data(as_text=True)
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
