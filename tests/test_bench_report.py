"""``tickwork bench report`` at a small scale on PostgreSQL (the benchmark needs it)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tickwork.cli import main
from tickwork.db import make_engine

POSTGRES = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES, reason="TEST_DATABASE_URL is not set: the benchmark needs PostgreSQL"
)


def test_the_report_benchmark_times_rollups_against_a_group_by_and_cleans_up() -> None:
    assert POSTGRES is not None
    args = ["bench", "report", "--rows", "30000", "--account-rows", "12000", "--accounts", "40"]
    result = CliRunner().invoke(main, [*args, "--database-url", POSTGRES, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["bench"] == "report" and document["ledger_rows"] == 30_000
    assert document["account_rows"] == 12_000 and document["accounts"] == 41
    account, platform = document["account_month"], document["platform_month"]
    assert account["entries"] == 12_000 and account["groups"] == 6  # one per app
    # executions of 1-3 credits by app, apps in runs of 7 rows: the same sum the SQL makes
    assert account["credits_micro"] == sum(1_000_000 * (1 + (g // 7) % 6 % 3) for g in range(1, 12_001))
    assert platform["entries"] == 30_000 and platform["groups"] > account["groups"]
    for part, goal in ((account, 200), (platform, 1000)):
        assert part["goal_ms"] == goal and part["report_ms"] > 0 and part["group_by_ms"] > 0
        assert part["ratio_vs_group_by"] > 0
    # The text form prints both figures and ratios.
    result = CliRunner().invoke(main, [*args, "--database-url", POSTGRES])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("report, account-month") and "x a GROUP BY" in lines[1]
    engine = make_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        left = connection.scalar(
            text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench_report_%'")
        )
    engine.dispose()
    assert left == 0


def test_it_refuses_sqlite(tmp_path: object) -> None:
    result = CliRunner().invoke(main, ["bench", "report", "--rows", "10", "--database-url", "sqlite:///x.db"])
    assert result.exit_code != 0 and "PostgreSQL" in result.output
