"""Placement with collection agencies and recall (behaviour.md, Agencies (placement and recall)).

At the close of business date D, after the referral rule (a case opened at D wins), an account with
`dpd >= from_dpd`, no open case, no open placement, no earlier placement in this delinquency episode,
no `dispute`/`bankruptcy`/`deceased` flag, no active promise and no active arrangement is placed with
the agency the placement hash picks. An open placement is recalled at a close D > its `as_of` with
the first reason that applies: `bankruptcy`, `deceased`, `dispute`, `cured` (dpd 0 at D), `expired`
(D >= `recall_on`). Money is integer minor units; percentages are exact Decimals; dates are
business dates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from collections_legal.domain.account import (
    BLOCKING_FLAGS,
    LegalAccount,
    OpenPlacement,
    active_arrangement,
    active_promise,
    past_due,
)

ONE_DAY = timedelta(days=1)
RECALL_FLAGS = ("bankruptcy", "deceased", "dispute")
"""Flags that recall a placement, in the order the spec checks them."""


@dataclass(frozen=True)
class AgencyTerms:
    """A configured agency: its share of the hash range and its commission, in percent (exact)."""

    agency_id: str
    share_pct: Decimal
    commission_pct: Decimal


@dataclass(frozen=True)
class PlacementRules:
    """`legal.placement`: no agencies means placement is off."""

    agencies: tuple[AgencyTerms, ...] = ()
    from_dpd: int = 120
    days: int = 90


@dataclass(frozen=True)
class Placing:
    """Place the account with `agency_id` at the close `as_of` (contract.md, legal.account_placed)."""

    account_id: str
    agency_id: str
    as_of: date
    dpd: int
    past_due_minor: int
    recall_on: date
    commission_pct: Decimal


@dataclass(frozen=True)
class Recall:
    """Recall `placement` at the close `as_of` (contract.md, legal.placement_recalled)."""

    placement: OpenPlacement
    as_of: date
    reason: str
    collected_minor: int
    commission_minor: int


def placement_hash(account_id: str) -> int:
    """h: the first 8 bytes, big-endian, of SHA-256 of `"placement:" + account_id` (UTF-8), modulo 100."""
    digest = hashlib.sha256(("placement:" + account_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def choose_agency(account_id: str, agencies: tuple[AgencyTerms, ...]) -> AgencyTerms:
    """The agency whose consecutive range of h (in list order, `share_pct` wide) holds the account's h.

    Shares 30 then 70: h 0-29 the first, 30-99 the second; with decimals the first takes every h
    below its share, the next every h below the running total, and so on. Raises ValueError when no
    agency is configured.
    """
    if not agencies:
        raise ValueError("no agency configured")
    h = placement_hash(account_id)
    running = Decimal(0)
    for agency in agencies:
        running += agency.share_pct
        if h < running:
            return agency
    return agencies[-1]


def commission(collected_minor: int, commission_pct: Decimal) -> int:
    """floor(`collected_minor` x `commission_pct` / 100), in minor units."""
    return int((Decimal(collected_minor) * commission_pct / 100).to_integral_value(rounding=ROUND_FLOOR))


def collected(account: LegalAccount, placement: OpenPlacement, on: date) -> int:
    """Payments with `received_on` after the placement's `as_of` and on or before `on`, less those
    reversed by now (minor units)."""
    return sum(p.amount_minor for p in account.payments if p.standing and placement.as_of < p.received_on <= on)


def decide_placement(account: LegalAccount, on: date, rules: PlacementRules) -> Placing | None:
    """The placement due at the close of `on`, or None (call after the referral rule)."""
    if not rules.agencies or account.open_case_id is not None or account.placement is not None:
        return None
    if account.placed_in_episode or account.flags & BLOCKING_FLAGS:
        return None
    dpd, past_due_minor = past_due(account, on)
    if dpd < rules.from_dpd or dpd == 0:
        return None
    if active_promise(account, on) or active_arrangement(account, on):
        return None
    agency = choose_agency(account.account_id, rules.agencies)
    return Placing(
        account.account_id,
        agency.agency_id,
        on,
        dpd,
        past_due_minor,
        on + timedelta(days=rules.days),
        agency.commission_pct,
    )


def place(account: LegalAccount, placing: Placing, placement_id: str) -> LegalAccount:
    """The account once placed: its open placement, and no other placement in this episode."""
    opened = OpenPlacement(
        placement_id=placement_id,
        agency_id=placing.agency_id,
        as_of=placing.as_of,
        recall_on=placing.recall_on,
        commission_pct=placing.commission_pct,
        checked_on=placing.as_of,
    )
    return replace(account, placement=opened, placed_in_episode=True)


def decide_recall(account: LegalAccount, on: date) -> Recall | None:
    """The recall due at the close of `on` for the open placement, or None (not before its `as_of`)."""
    placement = account.placement
    if placement is None or on <= placement.as_of:
        return None
    reason = next((flag for flag in RECALL_FLAGS if flag in account.flags), None)
    if reason is None and past_due(account, on)[0] == 0:
        reason = "cured"
    if reason is None and on >= placement.recall_on:
        reason = "expired"
    if reason is None:
        return None
    amount = collected(account, placement, on)
    return Recall(placement, on, reason, amount, commission(amount, placement.commission_pct))


def recall(account: LegalAccount, decision: Recall) -> LegalAccount:
    """The account after the recall: no open placement; a cure also ends the episode."""
    return replace(account, placement=None, placed_in_episode=decision.reason != "cured")


def checked(account: LegalAccount, on: date) -> LegalAccount:
    """Remember that the open placement was looked at by the close of `on` (for its wake date)."""
    placement = account.placement
    if placement is None or placement.checked_on >= on:
        return account
    return replace(account, placement=replace(placement, checked_on=on))


def placement_wake_on(account: LegalAccount, rules: PlacementRules) -> date | None:
    """The first close at which a placement or a recall can happen given the facts known now.

    Open placement: the next close when a recalling flag is set or the account can be cured by it
    (no unpaid due dated on or before the last close it was looked at), else `recall_on`. No open
    placement: the first close at which `decide_placement` can hold, None while something only a new
    fact can end holds (placement off, an open case, an earlier placement in this episode, a blocking
    flag, an active arrangement with no end, nothing unpaid).
    """
    placement = account.placement
    if placement is not None:
        soon = placement.checked_on + ONE_DAY
        if any(flag in account.flags for flag in RECALL_FLAGS):
            return soon
        if all(d.due_date > placement.checked_on for d in account.unpaid_dues):
            return soon
        return max(placement.recall_on, soon)
    if not rules.agencies or account.open_case_id is not None or account.placed_in_episode:
        return None
    if account.flags & BLOCKING_FLAGS or not account.unpaid_dues:
        return None
    bounds = [min(d.due_date for d in account.unpaid_dues) + timedelta(days=max(rules.from_dpd, 1))]
    for promise in account.promises:
        if promise.status != "kept":
            bounds.append(promise.promised_on + ONE_DAY)
    for arrangement in account.arrangements:
        if arrangement.status == "active" or (arrangement.status == "broken" and arrangement.ended_as_of is None):
            return None
        if arrangement.status == "broken" and arrangement.ended_as_of is not None:
            bounds.append(arrangement.ended_as_of + ONE_DAY)
    return max(bounds)
