"""Promises to pay (behaviour.md, Outreach; docs/decisions/0001).

Recorded from a result's `promise`; its day is the result's `occurred_at` in the customer's
timezone. Kept at once when the counted payments reach its amount (or the account cures); broken at
the first close on or after `promised_on` otherwise. A settled promise is final.

A payment counts when its `received_on` lies in the promise's period and it arrives while the
promise is unsettled (the spec's letter): a payment that arrived before the promise was recorded
does not count toward it, even when dated on the promise's day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from collections_outreach.domain.state import AccountState, Promise


def record_promise(
    state: AccountState, promise_id: str, amount_minor: int, promised_on: date, day: date
) -> tuple[AccountState, Promise]:
    """Add an unsettled promise; only payments that arrive after it count toward it."""
    promise = Promise(promise_id, amount_minor, promised_on, day)
    return replace(state, promises=(*state.promises, promise)), promise


def settle_at_close(state: AccountState, as_of: date) -> tuple[AccountState, tuple[Promise, ...]]:
    """Break every unsettled promise whose `promised_on` is on or before the close `as_of`."""
    broken: list[Promise] = []
    promises: list[Promise] = []
    for promise in state.promises:
        if promise.status == "active" and promise.promised_on <= as_of:
            promise = replace(promise, status="broken")
            broken.append(promise)
        promises.append(promise)
    if not broken:
        return state, ()
    return replace(state, promises=tuple(promises)), tuple(broken)


def keep_all(state: AccountState) -> tuple[AccountState, tuple[Promise, ...]]:
    """A cure keeps every unsettled promise at once."""
    kept = tuple(replace(p, status="kept") for p in state.promises if p.status == "active")
    if not kept:
        return state, ()
    promises = tuple(replace(p, status="kept") if p.status == "active" else p for p in state.promises)
    return replace(state, promises=promises), kept
