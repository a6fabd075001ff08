"""docker-compose.yml: validated by ``docker-compose config`` and checked for the production shape.

No container is started. ``docker-compose config`` (Debian's docker-compose package, which
``.ci/run`` installs when it can) resolves the file the way ``docker compose up`` would; the
structural checks read the file itself, so they run even where the binary is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
EXAMPLE_ENV = REPO_ROOT / "config" / "example.env"
TICKWORK_SERVICES = ("migrate", "web", "spawner", "worker")
LONG_RUNNING = ("web", "spawner", "worker")
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_docker_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="the docker-compose binary is not installed (apt-get install docker-compose; .ci/run does it)",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the x-* anchors and << merges
    assert isinstance(loaded, dict)
    return loaded


def env_file_names(path: Path, commented: bool = True) -> set[str]:
    """The variable names an env file sets (with ``commented``: also documents, as ``# NAME=``)."""
    pattern = r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=" if commented else r"^\s*([A-Z][A-Z0-9_]*)="
    names = set()
    for line in path.read_text().splitlines():
        match = re.match(pattern, line)
        if match:
            names.add(match.group(match.lastindex or 0))
    return names


def settings_read_by_the_platform() -> set[str]:
    """Every environment variable name the platform's settings code reads."""
    names: set[str] = set()
    settings = (REPO_ROOT / "platform" / "tickwork" / "settings.py").read_text()
    names |= set(re.findall(r"_(?:text|url|int|bool|seconds_list)\(env, \"([A-Z][A-Z0-9_]+)\"", settings))
    names |= set(re.findall(r"\"((?:SMTP|TWILIO)_[A-Z_]+)\"", settings))
    worker = (REPO_ROOT / "platform" / "tickwork" / "worker.py").read_text()
    names |= set(re.findall(r"_ENV = \"([A-Z][A-Z0-9_]+)\"", worker))
    return names


def run_config(*args: str, env_file: str | None = "config/example.env") -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    env = {name: value for name, value in os.environ.items() if not name.startswith(("COMPOSE_", "DOCKER_"))}
    env.pop("TICKWORK_ENV_FILE", None)
    if env_file is not None:
        env["TICKWORK_ENV_FILE"] = env_file
    return subprocess.run(
        [DOCKER_COMPOSE, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE), "config", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- docker-compose config ------------------------------------------------------------------------


@needs_docker_compose
def test_docker_compose_config_accepts_the_file_with_the_example_env() -> None:
    completed = run_config()
    assert completed.returncode == 0, completed.stderr
    resolved = yaml.safe_load(completed.stdout)
    services = resolved["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "spawner", "worker"}
    # The env file's values reach every Tickwork service; the paths inside the image are fixed.
    for name in TICKWORK_SERVICES:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://"), name
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert environment["SECRET_KEY"], name
        assert environment["APPS_DIR"] == "/srv/apps", name
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert services["spawner"]["deploy"]["replicas"] == 2
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(resolved["volumes"]) == {"postgres-data", "redis-data", "apps"}


@needs_docker_compose
def test_docker_compose_config_lists_the_services_and_volumes() -> None:
    services = run_config("--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {"postgres", "redis", "migrate", "web", "spawner", "worker"}
    volumes = run_config("--volumes")
    assert volumes.returncode == 0, volumes.stderr
    assert set(volumes.stdout.split()) == {"postgres-data", "redis-data", "apps"}


@needs_docker_compose
def test_docker_compose_refuses_to_run_without_an_env_file_named() -> None:
    completed = run_config("-q", env_file=None)
    assert completed.returncode != 0
    assert "TICKWORK_ENV_FILE" in completed.stderr


# --- structure, read from the file ----------------------------------------------------------------


def test_every_service_of_the_production_shape_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "spawner", "worker"}
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    assert compose["services"]["redis"]["image"].startswith("redis:")


def test_redis_keeps_an_append_only_file_on_its_volume_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-data:/data" in redis["volumes"]


def test_migration_runs_once_and_everything_of_tickwork_waits_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert "tickwork db upgrade" in " ".join(migrate["command"])
    assert "tickwork apps sync" in " ".join(migrate["command"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in LONG_RUNNING:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    checks = {
        name: " ".join(services[name]["healthcheck"]["test"]) for name in (*LONG_RUNNING, "postgres", "redis")
    }
    assert "pg_isready" in checks["postgres"]
    assert "redis-cli ping" in checks["redis"]
    assert "/healthz" in checks["web"]
    assert "tickwork:spawner:lock" in checks["spawner"]
    assert "rq:workers" in checks["worker"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_health_checks_name_the_keys_the_platform_really_uses(compose: dict[str, Any]) -> None:
    from rq.worker_registration import REDIS_WORKER_KEYS

    from tickwork.spawner.lock import LOCK_KEY

    services = compose["services"]
    assert LOCK_KEY in " ".join(services["spawner"]["healthcheck"]["test"])
    assert REDIS_WORKER_KEYS in " ".join(services["worker"]["healthcheck"]["test"])


def test_roles_commands_replicas_and_scaling(compose: dict[str, Any]) -> None:
    services = compose["services"]
    web = services["web"]
    assert web["entrypoint"][0] == "gunicorn"
    assert web["entrypoint"][-1] == "tickwork.web:create_app()"
    config_path = web["entrypoint"][web["entrypoint"].index("--config") + 1]
    assert config_path == "/etc/tickwork/gunicorn.conf.py"  # the Dockerfile copies config/ there
    assert (REPO_ROOT / "config" / "gunicorn.conf.py").is_file()
    assert services["spawner"]["command"][0] == "spawner"
    assert services["spawner"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"][0] == "worker"
    # `--scale worker=N` needs a worker without a fixed name or a published port.
    for name in ("spawner", "worker"):
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name


def test_named_volumes_hold_the_database_redis_and_the_apps(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"postgres-data", "redis-data", "apps"}
    services = compose["services"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in TICKWORK_SERVICES:
        assert "apps:/srv/apps" in services[name]["volumes"], name
        assert services[name]["environment"]["APPS_DIR"] == "/srv/apps", name


def test_configuration_comes_from_one_env_file(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*TICKWORK_SERVICES, "postgres"):
        assert services[name]["env_file"].startswith("${TICKWORK_ENV_FILE:?"), name
        # Secrets and URLs come from the env file, never from the compose file itself.
        environment = services[name].get("environment", {})
        assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(environment), name


def test_example_env_documents_every_setting_the_platform_reads() -> None:
    documented = env_file_names(EXAMPLE_ENV)
    read = settings_read_by_the_platform()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TICKWORK_HARD_KILL_GRACE"} <= read
    assert read - documented == set()


def test_example_env_values_are_accepted_by_the_strict_settings(tmp_path: Path) -> None:
    from tickwork.settings import load_settings

    values: dict[str, str] = {}
    for line in EXAMPLE_ENV.read_text().splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:  # commented examples too: each must be a valid value when switched on
            values[match.group(1)] = match.group(2)
    values["TICKWORK_HOME"] = str(tmp_path)
    settings = load_settings(values)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.smtp is not None and settings.twilio is not None
    assert settings.secret_key == values["SECRET_KEY"]
    # The bundled database and the URL the platform uses must agree on the password.
    assert f":{values['POSTGRES_PASSWORD']}@" in values["DATABASE_URL"]
    assert values["DATABASE_URL"].endswith(f"/{values['POSTGRES_DB']}")


def test_example_env_carries_no_real_secret() -> None:
    set_values = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in EXAMPLE_ENV.read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        assert "example" in set_values[name], name
    assert "OPENAI_API_KEY" not in set_values and "TWILIO_AUTH_TOKEN" not in set_values


def test_the_image_installs_gunicorn_through_the_production_extra() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert any(spec.startswith("gunicorn") for spec in project["optional-dependencies"]["production"])
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert '".[production]"' in dockerfile
    assert "COPY config /etc/tickwork" in dockerfile
    assert "/usr/share/tickwork/apps" in dockerfile  # the migrate service copies bundles from there


# --- the operator's guide -------------------------------------------------------------------------


def test_operations_guide_names_only_metrics_the_web_app_exposes() -> None:
    guide = (REPO_ROOT / "docs" / "operations.md").read_text()
    exposed = (REPO_ROOT / "platform" / "tickwork" / "web" / "metrics.py").read_text()
    named = set(re.findall(r"`(tickwork_[a-z_]+)", guide))
    assert len(named) >= 9

    def is_exposed(name: str) -> bool:
        if f'"{name}"' in exposed:
            return True
        prefix = "tickwork_spawner_last_tick_"  # metrics.py builds some from a dict of suffixes
        built = name.startswith(prefix) and f"{prefix}{{suffix}}" in exposed
        return built and f'"{name.removeprefix(prefix)}":' in exposed

    assert {name for name in named if not is_exposed(name)} == set()


def test_operations_guide_is_linked_and_keeps_a_place_for_the_load_run() -> None:
    guide = (REPO_ROOT / "docs" / "operations.md").read_text()
    assert "## Load run" in guide and "tickwork bench load" in guide
    assert "docs/operations.md" in (REPO_ROOT / "README.md").read_text()
