"""The repository's shape: the source folder must never shadow the stdlib ``platform``."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_platform_folder_has_no_init_so_it_cannot_shadow_the_stdlib_module() -> None:
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_imports_from_the_repository_root() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() in {"Linux", "Darwin", "Windows"}


def test_apps_folder_is_not_a_python_package() -> None:
    assert not list((REPO_ROOT / "apps").rglob("__init__.py"))


def test_billing_imports_nothing_from_tickwork() -> None:
    offenders = [
        path.relative_to(REPO_ROOT)
        for path in (REPO_ROOT / "billing").rglob("*.py")
        if "import tickwork" in path.read_text() or "from tickwork" in path.read_text()
    ]
    assert offenders == []


@pytest.mark.slow
def test_a_plain_wheel_carries_migrations_and_both_packages(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tickwork-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tickwork/cli/__init__.py" in names
    assert "billing/__init__.py" in names
    assert "tickwork/migrations/env.py" in names
    assert "tickwork/migrations/script.py.mako" in names
    assert any(name.startswith("tickwork/migrations/versions/0001") for name in names)
    assert not any(name.startswith("platform/") for name in names)

    # Installed from the wheel alone (not the checkout), the CLI finds its migrations.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(target), "TICKWORK_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    code = "import tickwork, sys; print(tickwork.__file__); from tickwork.cli import main; main()"
    completed = subprocess.run(
        [sys.executable, "-c", code, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0].startswith(str(target))
    assert "database upgraded from empty to" in completed.stdout
    assert (home / "tickwork.db").exists()
