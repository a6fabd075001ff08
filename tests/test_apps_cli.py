"""``tickwork apps validate`` and ``tickwork apps list``, through click and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork.cli import main
from tickwork.settings import reset_settings

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"
SHIPPED = [
    "appointment-reminders",
    "feedback-insights",
    "import-processor",
    "inventory-sync",
    "nightly-cleanup",
    "order-digest",
]

GOOD_MANIFEST = (
    'name = "Hello"\ndescription = "Says hello."\n\n[[jobs]]\nname = "hello"\nschedule = "*:*"\ncredits = 2\n'
)
GOOD_CODE = 'def hello(ctx, **params):\n    """Say hello."""\n    return {}\n'
BAD_MANIFEST = GOOD_MANIFEST.replace("credits = 2", "credits = 12\noverlap = 'sometimes'")


def write_bundle(root: Path, slug: str, manifest: str = GOOD_MANIFEST, code: str = GOOD_CODE) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "app.toml").write_text(manifest)
    (folder / "jobs.py").write_text(code)
    return folder


@pytest.fixture
def use_apps_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Settings read from a test environment; call it to point APPS_DIR somewhere (default: apps/)."""
    monkeypatch.setenv("TICKWORK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-not-for-production")

    def point_at(path: Path) -> None:
        monkeypatch.setenv("APPS_DIR", str(path))
        reset_settings()

    point_at(REPO_APPS)
    yield point_at
    reset_settings()


@pytest.fixture
def mixed_catalog(tmp_path: Path) -> Path:
    """Two good bundles and a broken one."""
    root = tmp_path / "catalog"
    write_bundle(root, "alpha")
    write_bundle(root, "broken-one", manifest=BAD_MANIFEST)
    write_bundle(root, "zeta", code=GOOD_CODE.replace("hello", "other", 1))
    return root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_shipped_apps_passes(use_apps_dir: Callable[[Path], None]) -> None:
    result = invoke("apps", "validate", str(REPO_APPS))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"ok      {slug}  (1 job)" for slug in SHIPPED] + ["6 ok, 0 broken"]


def test_validate_defaults_to_apps_dir(use_apps_dir: Callable[[Path], None], mixed_catalog: Path) -> None:
    use_apps_dir(mixed_catalog)
    result = invoke("apps", "validate")
    assert result.exit_code == 1
    assert "broken  broken-one  (2 problems)" in result.stdout


def test_validate_reports_every_problem_and_exits_1(
    use_apps_dir: Callable[[Path], None], mixed_catalog: Path
) -> None:
    result = invoke("apps", "validate", str(mixed_catalog))

    assert result.exit_code == 1
    assert_no_traceback(result)
    manifest = mixed_catalog / "broken-one" / "app.toml"
    assert result.stdout.splitlines() == [
        "ok      alpha  (1 job)",
        "broken  broken-one  (2 problems)",
        f"  {manifest}: jobs[0].credits: must be a whole number from 1 to 10, got 12",
        f'  {manifest}: jobs[0].overlap: must be one of "skip", "allow", got "sometimes"',
        "broken  zeta  (1 problem)",
        f'  {mixed_catalog}/zeta/app.toml: jobs[0].name: jobs.py has no top-level function "hello"',
        "1 ok, 2 broken",
    ]


def test_validate_one_bundle_folder(use_apps_dir: Callable[[Path], None], mixed_catalog: Path) -> None:
    good = invoke("apps", "validate", str(mixed_catalog / "alpha"))
    assert (good.exit_code, good.stdout) == (0, "ok      alpha  (1 job)\n1 ok, 0 broken\n")

    bad = invoke("apps", "validate", str(mixed_catalog / "broken-one"))
    assert bad.exit_code == 1
    assert bad.stdout.splitlines()[0] == "broken  broken-one  (2 problems)"


def test_validate_a_bundle_with_a_toml_syntax_error(
    use_apps_dir: Callable[[Path], None], tmp_path: Path
) -> None:
    folder = write_bundle(tmp_path, "typo", manifest='name = "Typo\n')
    result = invoke("apps", "validate", str(folder))
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert f"  {folder}/app.toml: line 1, column " in result.stdout


def test_validate_an_empty_folder_says_so(use_apps_dir: Callable[[Path], None], tmp_path: Path) -> None:
    result = invoke("apps", "validate", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"tickwork: no app bundles in {tmp_path}\n"


def test_validate_a_missing_path_is_a_usage_error(
    use_apps_dir: Callable[[Path], None], tmp_path: Path
) -> None:
    result = invoke("apps", "validate", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert "does not exist" in result.stderr


def test_list_table_shows_schedules_runs_and_credits(use_apps_dir: Callable[[Path], None]) -> None:
    result = invoke("apps", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "import-processor  Import processor" in lines
    header = lines[lines.index("import-processor  Import processor") + 1]
    row = lines[lines.index("import-processor  Import processor") + 2]
    assert header.split() == ["JOB", "SCHEDULE", "RUNS/DAY", "CREDITS/RUN", "CREDITS/DAY", "WHEN"]
    assert row.split()[:5] == ["process_batch", "*:*", "1,440", "1", "1,440"]
    assert row.endswith("Eastern")
    feedback = lines[lines.index("feedback-insights  Feedback insights") + 2]
    assert "0.71" in feedback.split() and "2.14" in feedback.split()
    assert "broken" not in lines


def test_list_json_has_the_documented_shape(use_apps_dir: Callable[[Path], None]) -> None:
    result = invoke("apps", "list", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"apps", "broken"} and data["broken"] == []
    assert [app["slug"] for app in data["apps"]] == SHIPPED
    apps = {app["slug"]: app for app in data["apps"]}
    assert set(apps["order-digest"]) == {"slug", "name", "description", "jobs"}
    [job] = apps["import-processor"]["jobs"]
    assert set(job) == {"name", "schedule", "description", "runs_per_day", "credits", "credits_per_day"}
    assert (job["name"], job["schedule"], job["runs_per_day"], job["credits"], job["credits_per_day"]) == (
        "process_batch",
        "*:*",
        1440,
        1,
        1440,
    )
    [feedback] = apps["feedback-insights"]["jobs"]
    assert (feedback["runs_per_day"], feedback["credits_per_day"]) == (0.714286, 2.142857)


def test_list_shows_broken_bundles_under_their_heading(
    use_apps_dir: Callable[[Path], None], mixed_catalog: Path
) -> None:
    use_apps_dir(mixed_catalog)

    table = invoke("apps", "list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    broken_at = lines.index("broken")
    manifest = mixed_catalog / "broken-one" / "app.toml"
    assert lines[broken_at + 1] == (
        f"  broken-one  {manifest}: jobs[0].credits: must be a whole number from 1 to 10, got 12"
        " (and 1 more: tickwork apps validate)"
    )
    assert lines[broken_at + 2].startswith("  zeta  ")
    assert lines[0] == "alpha  Hello"

    data = json.loads(invoke("apps", "list", "--format", "json").stdout)
    assert [app["slug"] for app in data["apps"]] == ["alpha"]
    assert [item["slug"] for item in data["broken"]] == ["broken-one", "zeta"]
    assert (
        data["broken"][0]["problems"][1]
        == f'{manifest}: jobs[0].overlap: must be one of "skip", "allow", got "sometimes"'
    )


def test_list_with_a_missing_apps_dir_is_a_clean_error(
    use_apps_dir: Callable[[Path], None], tmp_path: Path
) -> None:
    use_apps_dir(tmp_path / "nowhere")
    result = invoke("apps", "list")
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.startswith(f"tickwork: {tmp_path / 'nowhere'}: the apps folder does not exist")


def run_tickwork(tmp_path: Path, *args: str, apps_dir: Path = REPO_APPS) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TICKWORK_HOME": str(tmp_path / "home"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "APPS_DIR": str(apps_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "tickwork", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_and_list_as_a_real_process(tmp_path: Path, mixed_catalog: Path) -> None:
    good = run_tickwork(tmp_path, "apps", "validate")
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout.splitlines()[-1] == "6 ok, 0 broken"

    bad = run_tickwork(tmp_path, "apps", "validate", str(mixed_catalog))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    assert "jobs[0].credits: must be a whole number from 1 to 10, got 12" in bad.stdout

    listed = run_tickwork(tmp_path, "apps", "list", "--format", "json", apps_dir=mixed_catalog)
    assert listed.returncode == 0, listed.stderr
    assert [app["slug"] for app in json.loads(listed.stdout)["apps"]] == ["alpha"]
