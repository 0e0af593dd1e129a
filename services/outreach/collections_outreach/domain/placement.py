"""Placements with collection agencies as outreach knows them (behaviour.md, Agencies; Time and order).

While an agency holds the account outreach suppresses every step with reason `placed` (checked right
after `legal_hold`): from the first evaluation after the placement's `as_of` up to and including the
evaluation of the recall's `as_of`. Kept in the account's snapshot (`extra["placements"]`), beside
the call results the conduct checks count (`extra["call_results"]`). Dates are business dates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from collections_outreach.domain.conduct import CallResult, calls_from_json, calls_to_json
from collections_outreach.domain.state import AccountState

PLACEMENTS = "placements"
CALL_RESULTS = "call_results"


@dataclass(frozen=True)
class Placement:
    """A placement with `agency_id` at the close `as_of`, recalled at the close `recalled_as_of`."""

    placement_id: str
    agency_id: str
    as_of: date
    recalled_as_of: date | None = None


def placements(state: AccountState) -> tuple[Placement, ...]:
    """The account's placements, in the order legal made them."""
    raw: list[list[Any]] = state.extra.get(PLACEMENTS, [])
    return tuple(
        Placement(str(pid), str(agency), date.fromisoformat(str(on)), date.fromisoformat(str(r)) if r else None)
        for pid, agency, on, r in raw
    )


def _with_placements(state: AccountState, items: tuple[Placement, ...]) -> AccountState:
    raw = [
        [p.placement_id, p.agency_id, p.as_of.isoformat(), p.recalled_as_of.isoformat() if p.recalled_as_of else None]
        for p in items
    ]
    return replace(state, extra={**state.extra, PLACEMENTS: raw})


def apply_placed(state: AccountState, placement_id: str, agency_id: str, as_of: date) -> AccountState:
    """`legal.account_placed`: a repeat changes nothing."""
    known = placements(state)
    if any(p.placement_id == placement_id for p in known):
        return state
    return _with_placements(state, (*known, Placement(placement_id, agency_id, as_of)))


def apply_recalled(state: AccountState, placement_id: str, agency_id: str, as_of: date) -> AccountState:
    """`legal.placement_recalled`: the hold ends after `as_of` (a recall seen first is kept as both)."""
    known = placements(state)
    if not any(p.placement_id == placement_id for p in known):
        known = (*known, Placement(placement_id, agency_id, as_of))
    return _with_placements(
        state,
        tuple(replace(p, recalled_as_of=as_of) if p.placement_id == placement_id else p for p in known),
    )


def placed_hold(state: AccountState, as_of: date) -> bool:
    """Whether a placement holds outreach's evaluation of business date `as_of`."""
    return any(p.as_of < as_of and (p.recalled_as_of is None or as_of <= p.recalled_as_of) for p in placements(state))


def holds(state: AccountState, agency_id: str, day: date) -> bool:
    """Whether `agency_id` held the account on `day`: placed at a close before it, not recalled
    at a close before it."""
    return any(
        p.agency_id == agency_id and p.as_of < day and (p.recalled_as_of is None or day <= p.recalled_as_of)
        for p in placements(state)
    )


def call_results(state: AccountState) -> tuple[CallResult, ...]:
    """The call results on the trail that the conduct checks count."""
    return calls_from_json(state.extra.get(CALL_RESULTS))


def with_call_results(state: AccountState, calls: tuple[CallResult, ...]) -> AccountState:
    """`state` keeping `calls` as its call results."""
    return replace(state, extra={**state.extra, CALL_RESULTS: calls_to_json(calls)})
