"""Variables and secrets per installation: secrets encrypted at rest, never listed, read-only in jobs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Database
from tickwork.context.settings_store import (
    MissingSetting,
    SecretBox,
    SettingInfo,
    SettingsStoreError,
    delete_setting,
    list_settings,
    load_env,
    set_secret,
    set_variable,
)
from tickwork.models import Account, App, Installation, InstallationSetting

SECRET_KEY = "test-secret-key-for-settings"
TOKEN = "shpat_0123456789abcdef"


def make_installations(db: Database) -> tuple[int, int]:
    """One catalog app installed by two accounts: the installations' ids."""
    with db.session() as session:
        app = App(slug="order-digest", kind="catalog", name="Order digest")
        acme = Account(slug="acme", name="Acme Bakery")
        globex = Account(slug="globex", name="Globex Florist")
        session.add_all([app, acme, globex])
        session.flush()
        first = Installation(account_id=acme.id, app_id=app.id)
        second = Installation(account_id=globex.id, app_id=app.id)
        session.add_all([first, second])
        session.commit()
        return first.id, second.id


def raw_values(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {row.name: row.value for row in session.scalars(select(InstallationSetting))}


def test_a_secret_is_stored_encrypted_and_read_back_in_a_job(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_secret(session, box, installation, "SHOP_TOKEN", TOKEN)
        session.commit()

    stored = raw_values(db)["SHOP_TOKEN"]
    assert TOKEN not in stored and stored.startswith("gAAAA")  # a Fernet token
    with db.session() as session:
        env, secrets = load_env(session, box, installation)
    assert secrets["SHOP_TOKEN"] == TOKEN
    assert dict(env) == {}


def test_listing_shows_variables_with_values_and_secrets_without(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_variable(session, installation, "SHOP_URL", "https://acme.example.com")
        set_secret(session, box, installation, "SHOP_TOKEN", TOKEN)
        set_variable(session, installation, "CURRENCY", "USD")
        session.commit()

        listed = list_settings(session, installation)

    assert listed == [
        SettingInfo("CURRENCY", "variable", "USD"),
        SettingInfo("SHOP_TOKEN", "secret", None),
        SettingInfo("SHOP_URL", "variable", "https://acme.example.com"),
    ]
    assert all(TOKEN not in repr(item) for item in listed)


def test_setting_a_name_again_replaces_its_value(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_variable(session, installation, "CURRENCY", "USD")
        set_secret(session, box, installation, "SHOP_TOKEN", "old-token")
        session.commit()
        set_variable(session, installation, "CURRENCY", "CAD")
        set_secret(session, box, installation, "SHOP_TOKEN", TOKEN)
        session.commit()

        env, secrets = load_env(session, box, installation)

    assert (env["CURRENCY"], secrets["SHOP_TOKEN"]) == ("CAD", TOKEN)
    assert len(raw_values(db)) == 2


def test_a_name_keeps_its_kind_until_deleted(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_secret(session, box, installation, "SHOP_TOKEN", TOKEN)
        session.commit()
        with pytest.raises(SettingsStoreError, match="SHOP_TOKEN is already a secret"):
            set_variable(session, installation, "SHOP_TOKEN", "visible")
        session.rollback()

        assert delete_setting(session, installation, "SHOP_TOKEN") is True
        assert delete_setting(session, installation, "SHOP_TOKEN") is False
        set_variable(session, installation, "SHOP_TOKEN", "now a variable")
        session.commit()

        assert list_settings(session, installation) == [
            SettingInfo("SHOP_TOKEN", "variable", "now a variable")
        ]


def test_each_installation_sees_only_its_own_settings(db: Database) -> None:
    acme, globex = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_variable(session, acme, "CURRENCY", "USD")
        set_secret(session, box, acme, "SHOP_TOKEN", TOKEN)
        session.commit()

        env, secrets = load_env(session, box, globex)
        listed = list_settings(session, globex)

    assert (len(env), len(secrets), listed) == (0, 0, [])


def test_a_missing_name_is_a_key_error_that_says_how_to_set_it(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_variable(session, installation, "CURRENCY", "USD")
        session.commit()
        env, secrets = load_env(session, box, installation)

    with pytest.raises(KeyError) as missing_env:
        env["SHOP_URL"]
    with pytest.raises(MissingSetting) as missing_secret:
        secrets["SHOP_TOKEN"]

    assert str(missing_env.value) == (
        "ctx.env['SHOP_URL'] is not set for this installation: add a variable named SHOP_URL "
        "in the app's settings (admin panel: the app's page, Settings)"
    )
    assert "ctx.secrets['SHOP_TOKEN']" in str(missing_secret.value) and "a secret named SHOP_TOKEN" in str(
        missing_secret.value
    )
    assert env.get("SHOP_URL", "default") == "default"
    assert "CURRENCY" in env and "SHOP_URL" not in env


def test_job_mappings_are_read_only_and_do_not_show_secret_values(db: Database) -> None:
    installation, _ = make_installations(db)
    box = SecretBox(SECRET_KEY)
    with db.session() as session:
        set_variable(session, installation, "CURRENCY", "USD")
        set_secret(session, box, installation, "SHOP_TOKEN", TOKEN)
        session.commit()
        env, secrets = load_env(session, box, installation)

    with pytest.raises(TypeError):
        env["CURRENCY"] = "EUR"  # type: ignore[index]
    with pytest.raises(TypeError):
        del secrets["SHOP_TOKEN"]  # type: ignore[attr-defined]
    assert repr(secrets) == "<ctx.secrets: SHOP_TOKEN>"
    assert list(secrets) == ["SHOP_TOKEN"] and dict(env) == {"CURRENCY": "USD"}


def test_a_changed_secret_key_is_reported_when_the_secret_is_read(db: Database) -> None:
    installation, _ = make_installations(db)
    with db.session() as session:
        set_variable(session, installation, "CURRENCY", "USD")
        set_secret(session, SecretBox(SECRET_KEY), installation, "SHOP_TOKEN", TOKEN)
        session.commit()
        env, secrets = load_env(session, SecretBox("another-secret-key-entirely"), installation)

    assert env["CURRENCY"] == "USD"  # variables and a job that reads no secret are unaffected
    with pytest.raises(SettingsStoreError, match="SECRET_KEY changed since it was set"):
        secrets["SHOP_TOKEN"]


def test_encrypting_the_same_value_twice_gives_different_tokens() -> None:
    box = SecretBox(SECRET_KEY)
    first, second = box.encrypt(TOKEN), box.encrypt(TOKEN)

    assert first != second
    assert box.decrypt(first) == box.decrypt(second) == TOKEN
    assert SecretBox(SECRET_KEY).decrypt(first) == TOKEN  # the key is derived, not random
    with pytest.raises(SettingsStoreError, match="SECRET_KEY changed"):
        box.decrypt("not-a-token")


@pytest.mark.parametrize(
    "name", ["", "shop_token", "1TOKEN", "_TOKEN", "SHOP-TOKEN", "SHOP TOKEN", "Ä", "A" * 101, None]
)
def test_names_are_upper_case_identifiers(db: Database, name: Any) -> None:
    installation, _ = make_installations(db)
    with db.session() as session:
        with pytest.raises(SettingsStoreError, match="upper-case letters, digits and underscores"):
            set_variable(session, installation, name, "value")
        with pytest.raises(SettingsStoreError, match="upper-case letters"):
            set_secret(session, SecretBox(SECRET_KEY), installation, name, "value")
    assert raw_values(db) == {}


def test_the_longest_name_and_values_within_limits_are_accepted(db: Database) -> None:
    installation, _ = make_installations(db)
    with db.session() as session:
        set_variable(session, installation, "A" + "_9" * 49 + "Z", "x" * 10_000)
        with pytest.raises(SettingsStoreError, match="longer than 10,000 characters"):
            set_variable(session, installation, "TOO_LONG", "x" * 10_001)
        with pytest.raises(SettingsStoreError, match="must be a string"):
            set_variable(session, installation, "NUMBER", 42)  # type: ignore[arg-type]
        session.commit()

    assert list(raw_values(db)) == ["A" + "_9" * 49 + "Z"]
