"""Web test fixtures: the Flask app on this test's database lane and real Redis, and the cast.

``cast`` builds two accounts with the example apps installed and every kind of principal the
authorization rules distinguish, each with a password and an API key:
owner and member of account A ("acme"), owner of account B ("globex"), and staff.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from billing.ledger import Posting, post
from tests.conftest import Database
from tickwork import apikeys, clock
from tickwork.accounts import create_account, install
from tickwork.catalog import sync_catalog
from tickwork.models import Account, App, User
from tickwork.settings import get_settings, reset_settings

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
            "owner": _user(session, "owner@acme.test", account=acme, role="owner"),
            "member": _user(session, "member@acme.test", account=acme, role="member"),
            "other_owner": _user(session, "owner@globex.test", account=globex, role="owner"),
            "staff": _user(session, "staff@tickwork.test"),
        }
        for role, user in users.items():
            _, plain = apikeys.create_key(session, user, f"{role} key")
            people[role] = Person(user.email, plain, _slug(session, user))
        session.commit()
    return Cast(**people)


@functools.cache
def _password_hash() -> str:
    """Hashed once per run: a scrypt hash costs ~0.1 s, and every web test signs in its cast."""
    return generate_password_hash(PASSWORD)


def _user(session: Session, email: str, account: Account | None = None, role: str | None = None) -> User:
    """A user as ``create_user`` makes one (tested on its own), with the run's one password hash."""
    user = User(
        email=email, password_hash=_password_hash(), account=account, role=role, is_staff=account is None
    )
    session.add(user)
    session.flush()
    return user


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
