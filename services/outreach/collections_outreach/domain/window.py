"""Contact windows and local dates in the customer's own timezone (behaviour.md, Outreach).

A step due at the close of business date D asks for a contact in the window of business day D+1
(the calendar date D + 1 day), `start` to `end` local wall-clock time in the customer's IANA
timezone, given as UTC instants `YYYY-MM-DDTHH:MM:SSZ`. zoneinfo gives the right offset on
daylight-saving days (the window is then 12 or 14 hours long in UTC terms only by its end's offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from collections_events.envelope import parse_instant

UTC_ZONE = "UTC"


@dataclass(frozen=True)
class ContactWindow:
    """When a channel may act: local date `local_date`, as UTC instants `not_before`..`not_after`."""

    local_date: date
    not_before: str
    not_after: str


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _utc(local: datetime) -> str:
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact_window(business_date: date, timezone: str, start: str, end: str) -> ContactWindow:
    """The window of the business day after `business_date` (D+1), `start`..`end` (`HH:MM`) local time.

    Raises zoneinfo.ZoneInfoNotFoundError for an unknown timezone (validated at the edge already).
    """
    zone = ZoneInfo(timezone)
    day = business_date + timedelta(days=1)
    return ContactWindow(
        local_date=day,
        not_before=_utc(datetime.combine(day, _hhmm(start), tzinfo=zone)),
        not_after=_utc(datetime.combine(day, _hhmm(end), tzinfo=zone)),
    )


def local_date(instant: str, timezone: str) -> date:
    """The calendar date of RFC 3339 `instant` in `timezone` (e.g. a promise's or an rpc's day).

    Raises ValueError for an instant without an offset.
    """
    moment: datetime = parse_instant(instant)
    return moment.astimezone(ZoneInfo(timezone)).date()
