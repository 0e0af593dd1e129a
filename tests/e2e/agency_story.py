"""A placement-to-recall story as replay input (issue 16), shared by the replay and distributed tests.

Five accounts fall due on 5 January 2026 and are closed daily to 20 February. The config sends no
one to court (`min_contact_attempts` out of reach) and places at 20 dpd for 15 days, so: AG-1 never
pays (recalled `expired`); AG-2 pays 4,000 that is reversed, then 10,000 (recalled `cured`,
collected 10,000); AG-3 disputes (recalled `dispute`); AG-4's agency calls at 21:30 local, then a
fourth time in a day (breaches); AG-5 is called by an agency that does not hold it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collections_events.testing import account_opened_data
from collections_legal.domain.placement import AgencyTerms, choose_agency

AGENCIES = [
    {"id": "north", "share_pct": 40, "commission_pct": 20},
    {"id": "south", "share_pct": 60, "commission_pct": 12.5},
]
CONFIG: dict[str, Any] = {
    "legal": {"min_contact_attempts": 1000, "placement": {"agencies": AGENCIES, "from_dpd": 20, "days": 15}},
    "outreach": {"call_cap": {"calls": 3, "days": 7}},
}
START = date(2026, 1, 5)
LAST = date(2026, 2, 20)
ACCOUNTS = ("AG-1", "AG-2", "AG-3", "AG-4", "AG-5")
TERMS = tuple(AgencyTerms(a["id"], a["share_pct"], a["commission_pct"]) for a in AGENCIES)  # type: ignore[arg-type]


def agency_of(account_id: str) -> str:
    """The agency the placement hash gives the account."""
    return choose_agency(account_id, TERMS).agency_id


def _local(day: date, hour: int, minute: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lines:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, type_name: str, data: dict[str, Any], time: str, subject: str | None = None) -> None:
        self.events.append(
            {
                "specversion": "1.0",
                "id": f"story-{len(self.events) + 1:04d}",
                "source": "test/agency-story",
                "type": type_name,
                "subject": subject or data.get("account_id", "clock"),
                "time": time,
                "datacontenttype": "application/json",
                "data": data,
            }
        )


def story_events() -> list[dict[str, Any]]:
    """The story's input events in file order."""
    lines = _Lines()
    opened = "2025-12-01T00:00:00Z"
    for account in ACCOUNTS:
        lines.add("account.opened", account_opened_data(account), opened)
        due = {
            "account_id": account,
            "due_id": f"{account}-d1",
            "due_date": START.isoformat(),
            "amount_due_minor": 10_000,
            "statement_balance_minor": 10_000,
        }
        lines.add("payment.due", due, "2025-12-20T00:00:00Z")
    other = {"north": "south", "south": "north"}
    day = START
    while day <= LAST:
        noon = _local(day, 12)
        if day == date(2026, 1, 27):
            for n, (hour, minute) in enumerate([(9, 0), (10, 0), (21, 30)]):
                result = {
                    "account_id": "AG-4",
                    "attempt_id": None,
                    "agency_id": agency_of("AG-4"),
                    "channel": "call",
                    "outcome": "no_answer" if n < 2 else "answered_rpc",
                    "occurred_at": _local(day, hour, minute),
                }
                lines.add("contact.result_reported", result, result["occurred_at"])
            stray = {
                "account_id": "AG-5",
                "attempt_id": None,
                "agency_id": other[agency_of("AG-5")],
                "channel": "sms",
                "outcome": "delivered",
                "occurred_at": _local(day, 11),
            }
            lines.add("contact.result_reported", stray, stray["occurred_at"])
        if day == date(2026, 1, 28):
            lines.add("account.flag_set", {"account_id": "AG-3", "flag": "dispute", "reason": "not mine"}, noon)
            fourth = {
                "account_id": "AG-4",
                "attempt_id": None,
                "agency_id": agency_of("AG-4"),
                "channel": "call",
                "outcome": "no_answer",
                "occurred_at": _local(day, 10),
            }
            lines.add("contact.result_reported", fourth, fourth["occurred_at"])
        if day == date(2026, 1, 30):
            paid = {
                "account_id": "AG-2",
                "payment_id": "AG-2-p1",
                "amount_minor": 4_000,
                "received_on": day.isoformat(),
            }
            lines.add("payment.received", paid, noon)
        if day == date(2026, 1, 31):
            lines.add("payment.reversed", {"account_id": "AG-2", "payment_id": "AG-2-p1", "reason": "nsf"}, noon)
        if day == date(2026, 2, 2):
            paid = {
                "account_id": "AG-2",
                "payment_id": "AG-2-p2",
                "amount_minor": 10_000,
                "received_on": day.isoformat(),
            }
            lines.add("payment.received", paid, noon)
        lines.add("day.closed", {"as_of": day.isoformat()}, f"{day.isoformat()}T16:00:00Z", subject="clock")
        day += timedelta(days=1)
    return lines.events


def write_story(path: Path) -> Path:
    """Write the story as a JSONL replay input at `path`."""
    path.write_text("".join(json.dumps(e) + "\n" for e in story_events()), encoding="utf-8")
    return path
