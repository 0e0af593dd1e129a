"""Payments as outreach follows them: counted toward promises and the active arrangement.

behaviour.md (Outreach: promises; Arrangements). A payment counts toward an unsettled promise when
its `received_on` lies between the promise's day and `promised_on` (both included), and toward the
active arrangement when `received_on` is on or after `made_on`. A reversal of a counted payment
un-counts it while the promise is unsettled / the arrangement active; a settled one is final.
`payment_id` is the business key (a repeat changes nothing; received again after its reversal, it
applies again). Amounts are minor units; dates business dates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from collections_outreach.domain.state import AccountState, Arrangement, PaymentRecord, Promise


@dataclass(frozen=True)
class PaymentOutcome:
    """What a payment settled at once: promises kept, an arrangement completed."""

    kept: tuple[Promise, ...] = ()
    completed: Arrangement | None = None


def counts_toward_promise(promise: Promise, received_on: date) -> bool:
    """Whether a payment received on `received_on` is in the promise's counting period."""
    return promise.day <= received_on <= promise.promised_on


def counts_toward_arrangement(arrangement: Arrangement, received_on: date) -> bool:
    """Whether a payment received on `received_on` counts toward `arrangement`."""
    return received_on >= arrangement.made_on


def count_promise(promise: Promise, payment_id: str, amount: int) -> Promise:
    """Count one payment toward an unsettled promise; kept once the counted total reaches the amount."""
    if any(p == payment_id for p, _ in promise.counted):
        return promise
    counted = (*promise.counted, (payment_id, amount))
    kept = sum(a for _, a in counted) >= promise.amount_minor
    return replace(promise, counted=counted, status="kept" if kept else promise.status)


def count_arrangement(arrangement: Arrangement, payment_id: str, amount: int) -> Arrangement:
    """Count one payment toward an active arrangement; completed once the counted total reaches the whole."""
    if any(p == payment_id for p, _ in arrangement.counted):
        return arrangement
    counted = (*arrangement.counted, (payment_id, amount))
    done = sum(a for _, a in counted) >= arrangement.total_minor
    return replace(arrangement, counted=counted, status="completed" if done else arrangement.status)


def apply_payment(
    state: AccountState, payment_id: str, amount_minor: int, received_on: date
) -> tuple[AccountState, PaymentOutcome]:
    """Record `payment.received` and count it where it counts; what it settled at once."""
    known = dict(state.payments)
    if payment_id in known and known[payment_id].active:
        return state, PaymentOutcome()
    known[payment_id] = PaymentRecord(amount_minor, received_on, True)
    kept: list[Promise] = []
    promises: list[Promise] = []
    for promise in state.promises:
        if promise.status == "active" and counts_toward_promise(promise, received_on):
            promise = count_promise(promise, payment_id, amount_minor)
            if promise.status == "kept":
                kept.append(promise)
        promises.append(promise)
    completed: Arrangement | None = None
    arrangements: list[Arrangement] = []
    for arrangement in state.arrangements:
        if arrangement.status == "active" and counts_toward_arrangement(arrangement, received_on):
            arrangement = count_arrangement(arrangement, payment_id, amount_minor)
            if arrangement.status == "completed":
                completed = arrangement
        arrangements.append(arrangement)
    new_state = replace(
        state,
        payments=tuple(known.items()),
        promises=tuple(promises),
        arrangements=tuple(arrangements),
    )
    return new_state, PaymentOutcome(tuple(kept), completed)


def apply_reversal(state: AccountState, payment_id: str) -> AccountState:
    """Record `payment.reversed`: un-count the payment from unsettled promises and the active arrangement.

    A reversal of a payment outreach never saw changes nothing (the ledger answers it).
    """
    known = dict(state.payments)
    record = known.get(payment_id)
    if record is None or not record.active:
        return state
    known[payment_id] = replace(record, active=False)
    promises = tuple(
        replace(p, counted=tuple(c for c in p.counted if c[0] != payment_id)) if p.status == "active" else p
        for p in state.promises
    )
    arrangements = tuple(
        replace(a, counted=tuple(c for c in a.counted if c[0] != payment_id)) if a.status == "active" else a
        for a in state.arrangements
    )
    return replace(state, payments=tuple(known.items()), promises=promises, arrangements=arrangements)


def active_payments(state: AccountState) -> list[tuple[str, PaymentRecord]]:
    """The payments not reversed, in arrival order."""
    return [(pid, rec) for pid, rec in state.payments if rec.active]
