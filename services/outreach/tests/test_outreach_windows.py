"""Contact windows in the customer's timezone, right on the daylight-saving days of 2026."""

from __future__ import annotations

from datetime import date

import pytest

from collections_outreach.domain.window import contact_window, local_date

CASES = [
    # (zone, business day of the window, not_before, not_after)
    ("Asia/Shanghai", date(2026, 3, 8), "2026-03-08T00:00:00Z", "2026-03-08T13:00:00Z"),
    ("Asia/Shanghai", date(2026, 11, 1), "2026-11-01T00:00:00Z", "2026-11-01T13:00:00Z"),
    # US daylight time starts 2026-03-08 02:00 local: the window is in PDT/EDT already.
    ("America/Los_Angeles", date(2026, 3, 7), "2026-03-07T16:00:00Z", "2026-03-08T05:00:00Z"),
    ("America/Los_Angeles", date(2026, 3, 8), "2026-03-08T15:00:00Z", "2026-03-09T04:00:00Z"),
    ("America/New_York", date(2026, 3, 8), "2026-03-08T12:00:00Z", "2026-03-09T01:00:00Z"),
    # US daylight time ends 2026-11-01 02:00 local: the window is in PST/EST.
    ("America/Los_Angeles", date(2026, 10, 31), "2026-10-31T15:00:00Z", "2026-11-01T04:00:00Z"),
    ("America/Los_Angeles", date(2026, 11, 1), "2026-11-01T16:00:00Z", "2026-11-02T05:00:00Z"),
    ("America/New_York", date(2026, 11, 1), "2026-11-01T13:00:00Z", "2026-11-02T02:00:00Z"),
]


@pytest.mark.parametrize(("zone", "window_day", "not_before", "not_after"), CASES)
def test_window_of_next_business_day_in_customer_zone(
    zone: str, window_day: date, not_before: str, not_after: str
) -> None:
    # A step due at the close of D asks for the window of D+1.
    close = date.fromordinal(window_day.toordinal() - 1)
    window = contact_window(close, zone, "08:00", "21:00")
    assert window.local_date == window_day
    assert (window.not_before, window.not_after) == (not_before, not_after)


def test_configured_window_bounds() -> None:
    window = contact_window(date(2026, 3, 7), "America/New_York", "09:30", "17:45")
    assert (window.not_before, window.not_after) == ("2026-03-08T13:30:00Z", "2026-03-08T21:45:00Z")


def test_local_date_of_an_instant() -> None:
    assert local_date("2026-03-08T23:30:00Z", "Asia/Shanghai") == date(2026, 3, 9)
    assert local_date("2026-03-08T03:30:00Z", "America/Los_Angeles") == date(2026, 3, 7)
    assert local_date("2026-03-08T12:00:00+08:00", "UTC") == date(2026, 3, 8)
