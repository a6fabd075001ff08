"""The admin panel in a real browser: Debian's Chromium, headless, driven by Playwright.

The real web server runs in a thread on a free loopback port, on this test's database and
Redis. The owner signs in, switches an app off and sees it off, a spawner tick then queues
nothing of that app for the account, the owner switches it on and the next tick queues it;
a few runs made with "Run now" and worked by a real worker are billed, and the billing page
draws them. Without a browser the test is skipped, saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import Database
from tests.web_fixtures import PASSWORD, Cast
from tickwork.executions import slot_key
from tickwork.models import Account, App, Execution
from tickwork.queues import job_queue
from tickwork.spawner.tick import Spawner


def _browser() -> str | None:
    """Debian's Chromium (the package `chromium`), as Playwright's executable."""
    for candidate in (os.environ.get("TICKWORK_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = _browser()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium browser found (install Debian's `chromium` package; .ci/run does when it can)",
)

DIGEST_SLOT = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 8:00 AM Eastern: order-digest is due


@pytest.fixture
def server(web_app: Flask, cast: Cast) -> Iterator[str]:
    """The real WSGI server (werkzeug, threaded) on 127.0.0.1 and a free port; its base URL."""
    httpd = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="tickwork-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def queued_for(db: Database, redis_conn: redis.Redis, slot: datetime) -> dict[str, bool]:
    """Whether order-digest's run at ``slot`` is in the queue, per account."""
    queued = set(job_queue(redis_conn).job_ids)
    with db.session() as session:
        app_id = session.scalars(select(App.id).where(App.slug == "order-digest")).one()
        accounts = {slug: id_ for slug, id_ in session.execute(select(Account.slug, Account.id))}
    return {slug: slot_key(app_id, "daily_summary", id_, slot) in queued for slug, id_ in accounts.items()}


def run_worker(db: Database, redis_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url, "TICKWORK_RETRY_BACKOFF": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "tickwork", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_owner_switches_an_app_off_and_on_and_reads_the_billing_chart(
    db: Database,
    redis_conn: redis.Redis,
    redis_url: str,
    server: str,
    cast: Cast,
    tmp_path: Path,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    expect = sync_api.expect
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)

            # Sign in as the owner through the real form.
            page.goto(f"{server}/login")
            page.get_by_label("Email").fill(cast.owner.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            expect(page.locator("#stat-last-tick")).to_contain_text("No tick yet")

            # Switch Order digest off and see it off.
            page.get_by_role("link", name="Apps", exact=True).click()
            status = page.locator("#status-order-digest")
            expect(status).to_have_text("On")
            page.get_by_role("button", name="Switch Order digest off").click()
            expect(page.get_by_role("status")).to_contain_text("Order digest is off")
            expect(status).to_have_text("Off")
            expect(page.get_by_role("button", name="Switch Order digest on")).to_be_visible()
            page.screenshot(path=str(tmp_path / "apps-off.png"), full_page=True)

            # A tick at the digest's slot queues it for the other account only.
            spawner = Spawner(db.sessions, redis_conn, owner="browser-test")
            spawner.tick(DIGEST_SLOT)
            assert queued_for(db, redis_conn, DIGEST_SLOT) == {"acme": False, "globex": True}

            # Switch it on again; the next day's tick queues it for the owner's account too.
            page.get_by_role("button", name="Switch Order digest on").click()
            expect(status).to_have_text("On")
            next_day = DIGEST_SLOT + timedelta(days=1)
            spawner.tick(next_day)
            assert queued_for(db, redis_conn, next_day) == {"acme": True, "globex": True}
            page.get_by_role("link", name="Dashboard").click()
            expect(page.locator("#stat-last-tick")).not_to_contain_text("No tick yet")
            job_queue(redis_conn).empty()  # the simulated days' runs are not this test's business

            # A few runs made with "Run now", worked by a real worker, billed.
            page.goto(f"{server}/apps/order-digest")
            for _ in range(3):
                page.get_by_role("button", name="Run daily_summary now").click()
                expect(page.get_by_role("heading", name="Execution #")).to_be_visible()
                expect(page.locator("main")).to_contain_text("queued as execution")
                page.go_back()
            run_worker(db, redis_url)
            with db.session() as session:
                runs = [tuple(row) for row in session.execute(select(Execution.source, Execution.status))]
            assert runs == [("manual", "succeeded")] * 3, runs

            # The billing page draws them: inline SVG bars, the legend, the top job.
            page.get_by_role("link", name="Billing").click()
            by_app = page.locator("#chart-by-app svg")
            expect(by_app).to_be_visible()
            expect(by_app.locator("rect")).not_to_have_count(0)
            bar = re.search(
                r"order-digest ([\d.,]+) credits", by_app.locator("rect title").first.text_content() or ""
            )
            assert bar is not None and float(bar.group(1)) >= 6  # three runs at 2 credits, plus their emails
            expect(page.locator("#chart-by-app .legend")).to_contain_text("order-digest")
            expect(page.locator("#chart-by-kind .legend")).to_contain_text("execution")
            expect(page.locator("#top-jobs")).to_contain_text("daily_summary")
            page.screenshot(path=str(tmp_path / "billing.png"), full_page=True)
            with page.expect_download() as download:
                page.get_by_role("link", name="job", exact=True).click()
            csv_text = Path(download.value.path()).read_text()
            assert csv_text.startswith("account,app,job,day,kind,count,credits")
            assert "acme,order-digest,daily_summary" in csv_text
        finally:
            browser.close()
