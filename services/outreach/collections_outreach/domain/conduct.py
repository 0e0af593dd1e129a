"""Conduct checks of an agency's reported contact (behaviour.md, Agencies (placement and recall), Conduct).

For each result that carries an `agency_id`, every rule it breaks, in this order: `deceased`,
`bankruptcy`, `cease_and_desist`, `dispute` (the flag set as outreach knows it when the result
arrives); `outside_window` (any channel but letters: `occurred_at` in the customer's timezone before
the window's start or after its end, both ends inside); `rpc_cooldown` (a call whose local day lies
in the `rpc_cooldown_days` consecutive days beginning with the local day of an `answered_rpc` call
result on the trail with an earlier `occurred_at`); `frequency_cap` (a call that makes more than
`call_cap.calls` call results on the trail, whoever made them, whose local days fall in the
`call_cap.days` consecutive days ending with its own). A breach is evidence, not a refusal.

Instants are RFC 3339 strings; a result's local day is fixed with the timezone the account had when
it was recorded (`CallResult.local_day`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collections_events.envelope import parse_instant

FLAG_RULES = ("deceased", "bankruptcy", "cease_and_desist", "dispute")
"""The flag rules, in the order breaches are published."""
RULES = (*FLAG_RULES, "outside_window", "rpc_cooldown", "frequency_cap")
"""Every conduct rule, in the spec's order."""


@dataclass(frozen=True)
class CallResult:
    """A call result on the trail (the lender's or an agency's): when it happened, its local day when
    it was recorded, and whether it reached the right party (`answered_rpc`)."""

    occurred_at: str
    local_day: date
    rpc: bool


@dataclass(frozen=True)
class ConductRules:
    """The numbers the checks use: `outreach.window` (`HH:MM`), `outreach.rpc_cooldown_days`,
    `outreach.call_cap` (`calls` in `days`)."""

    window_start: str = "08:00"
    window_end: str = "21:00"
    rpc_cooldown_days: int = 7
    cap_calls: int = 7
    cap_days: int = 7


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def local_day(occurred_at: str, timezone: str) -> date:
    """The calendar date of `occurred_at` in `timezone`."""
    moment: datetime = parse_instant(occurred_at)
    return moment.astimezone(ZoneInfo(timezone)).date()


def outside_window(occurred_at: str, timezone: str, start: str, end: str) -> bool:
    """Whether `occurred_at`, in local wall-clock time, is before `start` or after `end` (both inside).

    Seconds count: 21:00:00 is inside a window ending 21:00, 21:00:01 is after it.
    """
    moment: datetime = parse_instant(occurred_at)
    clock: time = moment.astimezone(ZoneInfo(timezone)).time()
    return clock < _hhmm(start) or clock > _hhmm(end)


def in_cooldown(occurred_at: str, day: date, calls: Iterable[CallResult], cooldown_days: int) -> bool:
    """Whether local day `day` lies in the `cooldown_days` days that begin with the local day of an
    `answered_rpc` call result with an earlier `occurred_at`."""
    if cooldown_days <= 0:
        return False
    moment = parse_instant(occurred_at)
    last = timedelta(days=cooldown_days - 1)
    return any(
        c.rpc and parse_instant(c.occurred_at) < moment and c.local_day <= day <= c.local_day + last for c in calls
    )


def calls_in_days(day: date, calls: Iterable[CallResult], days: int) -> int:
    """Call results whose local days fall in the `days` consecutive days ending with `day`."""
    first = day - timedelta(days=days - 1)
    return sum(1 for c in calls if first <= c.local_day <= day)


def breaches(
    *,
    flags: frozenset[str],
    channel: str,
    occurred_at: str,
    timezone: str,
    calls: tuple[CallResult, ...],
    rules: ConductRules,
) -> tuple[str, ...]:
    """Every rule an agency's contact breaks, in the spec's order.

    `calls` are the call results already on the trail (not this one); `timezone` the customer's as
    outreach knows it now. Raises ValueError for an instant without an offset (validated at the edge).
    """
    broken = [flag for flag in FLAG_RULES if flag in flags]
    if channel != "letter" and outside_window(occurred_at, timezone, rules.window_start, rules.window_end):
        broken.append("outside_window")
    if channel == "call":
        day = local_day(occurred_at, timezone)
        if in_cooldown(occurred_at, day, calls, rules.rpc_cooldown_days):
            broken.append("rpc_cooldown")
        if 1 + calls_in_days(day, calls, rules.cap_days) > rules.cap_calls:
            broken.append("frequency_cap")
    return tuple(broken)


def kept_calls(calls: tuple[CallResult, ...], rules: ConductRules) -> tuple[CallResult, ...]:
    """The call results worth keeping: those within `HORIZON_DAYS` plus the longest rule's days of
    the newest one (a report later than that could no longer be judged against older calls)."""
    if not calls:
        return calls
    newest = max(c.local_day for c in calls)
    keep_from = newest - timedelta(days=HORIZON_DAYS + max(rules.rpc_cooldown_days, rules.cap_days))
    return tuple(c for c in calls if c.local_day >= keep_from)


HORIZON_DAYS = 90
"""How far behind the newest call result an agency's late report is still judged exactly (days)."""


def calls_to_json(calls: tuple[CallResult, ...]) -> list[list[Any]]:
    """The snapshot form of `calls`."""
    return [[c.occurred_at, c.local_day.isoformat(), c.rpc] for c in calls]


def calls_from_json(raw: list[list[Any]] | None) -> tuple[CallResult, ...]:
    """The call results kept by `calls_to_json`."""
    return tuple(CallResult(str(o), date.fromisoformat(str(d)), bool(r)) for o, d, r in raw or [])
