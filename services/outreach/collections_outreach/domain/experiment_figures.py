"""Per-episode figures of each arm, kept in the account's snapshot (behaviour.md, Strategy experiments).

`state.extra["experiment_episodes"]` lists the account's episodes: its arm, `started_on` (the
`as_of` of the delinquency event that started it: the first business date past due), `cured_on`
(the `as_of` of the one that ended it, or null), and what outreach did and saw in it: contacts
requested by channel, suppressions by reason, right-party contacts (`answered_rpc` results),
promises made/kept/broken, arrangements made/completed/broken, and the payments received while it
ran (minor units, less those reversed). An event is counted in the account's latest episode; one
that arrives before any episode is not counted. `GET /experiments` sums them per arm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from collections_outreach.domain.state import AccountState

KEY = "experiment_episodes"
CURED_WITHIN_DAYS = 30
_COUNTED = {
    "outreach.promise_recorded": ("promises", "made"),
    "outreach.promise_kept": ("promises", "kept"),
    "outreach.promise_broken": ("promises", "broken"),
    "outreach.arrangement_made": ("arrangements", "made"),
    "outreach.arrangement_completed": ("arrangements", "completed"),
    "outreach.arrangement_broken": ("arrangements", "broken"),
}


def new_episode(arm: str, started_on: date) -> dict[str, Any]:
    """The figures of an episode that has just started."""
    return {
        "arm": arm,
        "started_on": started_on.isoformat(),
        "cured_on": None,
        "requested": {},
        "suppressed": {},
        "rpc": 0,
        "promises": {"made": 0, "kept": 0, "broken": 0},
        "arrangements": {"made": 0, "completed": 0, "broken": 0},
        "payments_minor": 0,
        "payments": {},
    }


def episodes(state: AccountState) -> list[dict[str, Any]]:
    """The account's episode figures, oldest first."""
    found: list[dict[str, Any]] = state.extra.get(KEY, [])
    return found


def _with_last(state: AccountState, change: dict[str, Any]) -> AccountState:
    listed = episodes(state)
    if not listed:
        return state
    return replace(state, extra={**state.extra, KEY: [*listed[:-1], change]})


def _bump(counts: dict[str, int], key: str, by: int = 1) -> dict[str, int]:
    return {**counts, key: counts.get(key, 0) + by}


def on_delinquency(before: AccountState, after: AccountState, arm: str, as_of: date) -> AccountState:
    """An episode started (a new entry) or was cured (`cured_on`) by a delinquency event as of `as_of`."""
    if after.episode > before.episode and after.in_episode:
        return replace(after, extra={**after.extra, KEY: [*episodes(after), new_episode(arm, as_of)]})
    if before.in_episode and not after.in_episode and episodes(after):
        return _with_last(after, {**episodes(after)[-1], "cured_on": as_of.isoformat()})
    return after


def on_emitted(state: AccountState, emitted: Iterable[tuple[str, dict[str, Any]]]) -> AccountState:
    """Count what outreach published for the account, (type, data) pairs, in its latest episode."""
    if not episodes(state):
        return state
    last = dict(episodes(state)[-1])
    changed = False
    for kind, data in emitted:
        if kind == "outreach.contact_requested":
            last["requested"] = _bump(last["requested"], data["channel"])
        elif kind == "outreach.contact_suppressed":
            last["suppressed"] = _bump(last["suppressed"], data["reason"])
        elif kind in _COUNTED:
            group, key = _COUNTED[kind]
            last[group] = _bump(last[group], key)
        else:
            continue
        changed = True
    return _with_last(state, last) if changed else state


def on_result(state: AccountState, outcome: str) -> AccountState:
    """A contact result: an `answered_rpc` is a right-party contact of the episode running."""
    if outcome != "answered_rpc" or not state.in_episode or not episodes(state):
        return state
    last = episodes(state)[-1]
    return _with_last(state, {**last, "rpc": last["rpc"] + 1})


def on_payment(state: AccountState, payment_id: str, amount_minor: int | None) -> AccountState:
    """`payment.received` during the episode (amount) or its `payment.reversed` (None) takes it back."""
    if not episodes(state):
        return state
    last = episodes(state)[-1]
    counted: dict[str, int] = last["payments"]
    if amount_minor is None:
        if payment_id not in counted:
            return state
        rest = {k: v for k, v in counted.items() if k != payment_id}
        return _with_last(state, {**last, "payments": rest, "payments_minor": sum(rest.values())})
    if not state.in_episode or payment_id in counted:
        return state
    more = {**counted, payment_id: amount_minor}
    return _with_last(state, {**last, "payments": more, "payments_minor": sum(more.values())})


def empty_figures() -> dict[str, Any]:
    """One arm's figures before any episode is added."""
    return {
        "episodes_started": 0,
        "contacts_requested": {},
        "suppressed": {},
        "right_party_contacts": 0,
        "promises": {"made": 0, "kept": 0, "broken": 0},
        "arrangements": {"made": 0, "completed": 0, "broken": 0},
        "cured_within_30_days": 0,
        "payments_received_minor": 0,
    }


def add_episode(figures: dict[str, Any], episode: dict[str, Any]) -> None:
    """Add one episode's figures to an arm's (in place)."""
    figures["episodes_started"] += 1
    for channel, n in episode["requested"].items():
        figures["contacts_requested"][channel] = figures["contacts_requested"].get(channel, 0) + n
    for reason, n in episode["suppressed"].items():
        figures["suppressed"][reason] = figures["suppressed"].get(reason, 0) + n
    figures["right_party_contacts"] += episode["rpc"]
    for group in ("promises", "arrangements"):
        for key, n in episode[group].items():
            figures[group][key] += n
    cured = episode["cured_on"]
    started = date.fromisoformat(episode["started_on"])
    if cured is not None and (date.fromisoformat(cured) - started).days <= CURED_WITHIN_DAYS:
        figures["cured_within_30_days"] += 1
    figures["payments_received_minor"] += episode["payments_minor"]
