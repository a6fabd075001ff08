"""LogCapture: one execution's log records and printed output, stamped by the one clock, capped."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tickwork import clock
from tickwork.context.log_capture import LogCapture

NOON = datetime(2026, 11, 22, 13, 5, tzinfo=UTC)


def test_log_records_and_prints_land_in_one_stamped_log() -> None:
    capture = LogCapture()
    with clock.frozen_at(NOON) as move_to, capture as log:
        log.info("checking %d orders", 3)
        print("printed by the job")
        move_to(NOON + timedelta(seconds=2))
        log.warning("flour is low")
        print("to stderr", file=sys.stderr)
        log.debug("details")

    assert capture.text() == (
        "2026-11-22T13:05:00Z INFO checking 3 orders\n"
        "2026-11-22T13:05:00Z STDOUT printed by the job\n"
        "2026-11-22T13:05:02Z WARNING flour is low\n"
        "2026-11-22T13:05:02Z STDERR to stderr\n"
        "2026-11-22T13:05:02Z DEBUG details\n"
    )


def test_stdout_and_stderr_are_restored_afterwards(capsys: pytest.CaptureFixture[str]) -> None:
    before = (sys.stdout, sys.stderr)
    with LogCapture():
        assert sys.stdout is not before[0]
        print("captured")
    print("not captured")

    assert (sys.stdout, sys.stderr) == before
    assert capsys.readouterr().out == "not captured\n"


def test_output_is_restored_and_kept_when_the_job_raises() -> None:
    capture = LogCapture()
    with clock.frozen_at(NOON), pytest.raises(ZeroDivisionError):
        with capture as log:
            print("before the error")
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                log.exception("the job failed")
                raise

    text = capture.text()
    assert text.startswith(
        "2026-11-22T13:05:00Z STDOUT before the error\n2026-11-22T13:05:00Z ERROR the job failed\n"
    )
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: division by zero" in text


def test_a_partial_printed_line_is_kept_when_the_block_ends() -> None:
    capture = LogCapture()
    with clock.frozen_at(NOON), capture:
        print("progress:", end=" ")
        print("50%", end="")

    assert capture.text() == "2026-11-22T13:05:00Z STDOUT progress: 50%\n"


def test_the_log_is_capped_and_says_how_much_was_dropped() -> None:
    capture = LogCapture(cap_bytes=100)
    with clock.frozen_at(NOON), capture as log:
        for number in range(10):
            log.info("line %d", number)  # 33 bytes each

    text = capture.text()
    assert text == (
        "2026-11-22T13:05:00Z INFO line 0\n"
        "2026-11-22T13:05:00Z INFO line 1\n"
        "2026-11-22T13:05:00Z INFO line 2\n"
        "2\n"
        "… [230 more bytes truncated]"
    )
    assert capture.dropped_bytes == 230


def test_the_cap_counts_utf8_bytes_and_never_splits_a_character() -> None:
    capture = LogCapture(cap_bytes=30)
    with clock.frozen_at(NOON), capture:
        print("€€€€")  # the prefix is 28 bytes, each € 3 more

    assert capture.text() == "2026-11-22T13:05:00Z STDOUT \n… [11 more bytes truncated]"


def test_each_capture_has_its_own_logger_that_does_not_propagate(caplog: pytest.LogCaptureFixture) -> None:
    first, second = LogCapture(), LogCapture()
    with first as first_log:
        first_log.error("only in the first")
    with second as second_log:
        second_log.error("only in the second")

    assert first_log is first.logger and first_log.name != second_log.name
    assert first_log.propagate is False
    assert "only in the second" not in first.text() and "only in the first" not in second.text()
    assert caplog.records == []  # nothing reached the root logger
    assert first_log.name not in logging.root.manager.loggerDict  # per-execution names do not pile up


def test_lines_written_from_job_threads_are_kept_whole() -> None:
    capture = LogCapture()
    with capture as log:

        def work(worker: int) -> None:
            for step in range(50):
                log.info("worker %d step %d", worker, step)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    lines = capture.text().splitlines()
    assert len(lines) == 200
    assert all(line.split(" ", 1)[1].startswith("INFO worker ") for line in lines)


def test_a_capture_cannot_be_entered_twice() -> None:
    capture = LogCapture()
    with capture:
        with pytest.raises(RuntimeError, match="already capturing"):
            capture.__enter__()
    with pytest.raises(ValueError, match="cap_bytes"):
        LogCapture(cap_bytes=0)
