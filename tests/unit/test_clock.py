"""Deadlines are dates in China: the service clock's day turns at midnight Beijing time, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dudao.clock import Clock, china_date, end_of_china_day

pytestmark = pytest.mark.unit


def test_the_day_turns_at_midnight_in_beijing():
    assert china_date(datetime(2026, 11, 24, 15, 59, tzinfo=UTC)) == date(2026, 11, 24)
    assert china_date(datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == date(2026, 11, 25)


def test_end_of_a_china_day_is_its_last_instant():
    end = end_of_china_day(date(2026, 3, 1))
    assert end == datetime(2026, 3, 1, 15, 59, 59, 999999, tzinfo=UTC)
    assert china_date(end) == date(2026, 3, 1) and china_date(end + timedelta(microseconds=1)) == date(2026, 3, 2)


def test_a_clock_is_moved_only_by_what_tests_ask():
    clock = Clock()
    clock.set_today(date(2027, 1, 3))
    assert clock.today() == date(2027, 1, 3)
    clock.advance(timedelta(days=2))
    assert clock.today() == date(2027, 1, 5)
