from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tickwork import clock


def test_now_is_aware_utc() -> None:
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_frozen_clock_can_be_moved_and_is_restored() -> None:
    start = datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    with clock.frozen_at(start) as move_to:
        assert clock.now() == start
        move_to(datetime(2026, 3, 8, 3, 0, tzinfo=timezone(timedelta(hours=-4))))
        assert clock.now() == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError), clock.frozen_at(datetime(2026, 1, 1)):
        pass
