"""``tickwork schedule check|next|cost``, in-process with CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tickwork import clock
from tickwork.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["schedule", *args])
    return result.exit_code, result.stdout, result.stderr


def tickwork_command() -> list[str]:
    script = Path(sys.executable).parent / "tickwork"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tickwork"]


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "platform"), str(root)])}
    return subprocess.run(
        [*tickwork_command(), "schedule", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


# --- check ---------------------------------------------------------------------------------------


def test_check_prints_canonical_form_then_english() -> None:
    code, out, err = run("check", "*/15 8-19 * * mon-fri")
    assert (code, err) == (0, "")
    assert out == "mon-fri 8-19:*/15\nevery 15 minutes from 8:00 AM to 7:45 PM, Monday to Friday, Eastern\n"


def test_check_rejects_a_bad_schedule_with_exit_2_and_a_pointed_message() -> None:
    code, out, err = run("check", "25:00")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        'tickwork: invalid schedule "25:00": hour 25 is out of range (the hour field allows 0-23)',
        "  25:00",
        "  ^^",
    ]


@pytest.mark.parametrize(
    "expression", ["9am", "", "every 5 minutes", "0 0 * * * *", "0 0 30 2 *", "0 0 L * *"]
)
def test_check_explains_common_mistakes_without_a_traceback(expression: str) -> None:
    code, out, err = run("check", expression)
    assert code == 2 and out == ""
    assert err.startswith("tickwork: invalid schedule") and "Traceback" not in err


# --- next ----------------------------------------------------------------------------------------


def test_next_after_an_instant_with_offset_prints_eastern_iso_times() -> None:
    code, out, _ = run("next", "2:30", "--after", "2026-03-07T12:00-05:00", "--count", "2")
    assert code == 0
    assert out == "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n"


def test_next_defaults_to_five_runs_after_the_tickwork_clock() -> None:
    with clock.frozen_at(datetime(2026, 11, 1, 5, 0, tzinfo=UTC)):  # 1:00 EDT, fall-back day
        code, out, _ = run("next", "*:30")
    assert code == 0
    assert out.splitlines() == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-01T03:30:00-05:00",
        "2026-11-01T04:30:00-05:00",
    ]


def test_next_after_without_offset_means_eastern_first_occurrence() -> None:
    _, ambiguous, _ = run("next", "*:*", "--after", "2026-11-01T01:30", "--count", "1")
    assert ambiguous == "2026-11-01T01:31:00-04:00\n"
    _, in_gap, _ = run("next", "*:*", "--after", "2026-03-08T02:30", "--count", "1")
    assert in_gap == "2026-03-08T03:31:00-04:00\n"  # PEP 495 fold=0: 2:30 EST, which is 3:30 EDT
    _, utc_z, _ = run("next", "9:00", "--after", "2026-06-01T00:00Z", "--count", "1")
    assert utc_z == "2026-06-01T09:00:00-04:00\n"


@pytest.mark.parametrize("after", ["tomorrow", "2026-13-01T00:00", "2026-03-07 noon"])
def test_next_rejects_a_bad_after_with_exit_2(after: str) -> None:
    code, out, err = run("next", "9:00", "--after", after)
    assert code == 2 and out == ""
    assert "--after" in err and "ISO 8601" in err and "Traceback" not in err


@pytest.mark.parametrize("count", ["0", "1001", "many"])
def test_next_rejects_a_count_outside_1_to_1000(count: str) -> None:
    code, out, err = run("next", "9:00", "--count", count)
    assert code == 2 and out == ""
    assert "--count" in err


def test_next_prints_up_to_1000_runs() -> None:
    code, out, _ = run("next", "*:*", "--after", "2026-01-01T00:00-05:00", "--count", "1000")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1000 and lines[-1] == "2026-01-01T16:40:00-05:00"


# --- cost ----------------------------------------------------------------------------------------


def test_cost_prints_runs_and_credits_per_day_and_per_30_days() -> None:
    code, out, _ = run("cost", "*:*", "--credits", "2")
    assert code == 0
    assert out == "runs per day: 1,440\ncredits per day: 2,880\ncredits per 30 days: 86,400\n"


def test_cost_shows_two_decimals_when_not_whole() -> None:
    _, out, _ = run("cost", "mon-fri 8-19:00", "--credits", "4")
    assert out == "runs per day: 8.57\ncredits per day: 34.29\ncredits per 30 days: 1,028.57\n"


def test_cost_json_uses_integers_when_whole() -> None:
    code, out, _ = run("cost", "*:*", "--credits", "2", "--json")
    assert code == 0
    assert out == '{"runs_per_day": 1440, "credits_per_day": 2880, "credits_per_30_days": 86400}\n'


def test_cost_json_rounds_fractions() -> None:
    _, out, _ = run("cost", "mon-fri 8-19:00", "--credits", "4", "--json")
    assert json.loads(out) == {
        "runs_per_day": 8.5714,
        "credits_per_day": 34.285714,
        "credits_per_30_days": 1028.57142,
    }


@pytest.mark.parametrize("credits", ["0", "11", "1.5", "-1"])
def test_cost_rejects_credits_outside_1_to_10(credits: str) -> None:
    code, out, err = run("cost", "9:00", "--credits", credits)
    assert code == 2 and out == ""
    assert "--credits" in err


def test_cost_of_a_bad_schedule_exits_2() -> None:
    code, _, err = run("cost", "9:60", "--credits", "1")
    assert code == 2 and "minute 60 is out of range" in err


# --- the installed command ------------------------------------------------------------------------


def test_installed_command_checks_previews_and_prices() -> None:
    check = run_process("check", "mon-fri 8-19:00")
    assert (check.returncode, check.stdout) == (
        0,
        "mon-fri 8-19:00\nevery hour from 8 AM to 7 PM, Monday to Friday, Eastern\n",
    )
    upcoming = run_process("next", "2:30", "--after", "2026-03-07T12:00-05:00", "--count", "2")
    assert (upcoming.returncode, upcoming.stdout) == (
        0,
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n",
    )
    cost = run_process("cost", "*:*", "--credits", "2", "--json")
    assert (cost.returncode, cost.stdout) == (
        0,
        '{"runs_per_day": 1440, "credits_per_day": 2880, "credits_per_30_days": 86400}\n',
    )


@pytest.mark.parametrize(
    "args",
    [("check", "25:00"), ("next", "9:00", "--after", "soon"), ("cost", "9:00", "--credits", "11")],
)
def test_installed_command_exits_2_without_a_traceback(args: tuple[str, ...]) -> None:
    result = run_process(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr and "Traceback" not in result.stderr
