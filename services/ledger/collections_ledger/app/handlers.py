"""The ledger's handlers, one per event model it consumes (behaviour.md, Ledger; Arrangements for waivers).

Each takes the event's validated data and the unit of work; `HANDLERS` at the end is the table the
runtime dispatches on and the subscription follows from (decision 0008).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from collections_events import inbound, outbound
from collections_events.envelope import Envelope
from collections_events.fields import MAX_MINOR_UNITS
from collections_events.runtime.handlers import HandlerTable
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event
from collections_ledger.app.facts import OPENING_FIELDS, due_of, opening_of, payment_of
from collections_ledger.app.repository import LedgerAccounts
from collections_ledger.domain.account import (
    Balance,
    ConflictingPaymentError,
    LedgerAccount,
    UnknownPaymentError,
    apply_due,
    apply_opening,
    apply_payment,
    apply_reversal,
    apply_waiver,
    balance,
    settlement_waiver,
)


async def on_due(data: inbound.PaymentDue, uow: UnitOfWork) -> None:
    """A due joins the account (a repeated `due_id` changes nothing)."""
    await _change(uow, data.account_id, lambda account: apply_due(account, due_of(data)))


async def on_payment(data: inbound.PaymentReceived, uow: UnitOfWork) -> None:
    """A payment is pooled; a known `payment_id` with another amount is rejected naming both."""
    await _change(uow, data.account_id, lambda account: apply_payment(account, payment_of(data)))


async def on_reversal(data: inbound.PaymentReversed, uow: UnitOfWork) -> None:
    """A payment is removed as if never applied; a reversal of a payment never seen is rejected."""
    await _change(uow, data.account_id, lambda account: apply_reversal(account, data.payment_id))


async def on_opening(data: inbound.AccountOpened, uow: UnitOfWork) -> None:
    """The account's product, currency and opening date; only those fields are stored (no personal data)."""
    assert uow.cause is not None
    stored = uow.cause.model_copy(update={"data": {k: uow.cause.data[k] for k in OPENING_FIELDS}})
    await _change(uow, data.account_id, lambda account: apply_opening(account, opening_of(data)), stored=stored)


async def on_arrangement_completed(data: outbound.ArrangementCompleted, uow: UnitOfWork) -> None:
    """A completed settlement forgives the rest of the dues due on or before its `made_on`.

    `ledger.waiver_posted` first, then `ledger.balance_changed` if the balance moved; a plan, or a
    settlement whose waiver is already posted, changes nothing (behaviour.md, Arrangements).
    """
    accounts = LedgerAccounts.of(uow)
    account = await accounts.account(data.account_id)
    if data.kind != "settlement" or account.has_waiver(data.arrangement_id):
        return
    tolerance = uow.config.ledger.tolerance_minor
    waiver = settlement_waiver(account, data.arrangement_id, data.made_on, tolerance)
    uow.emit(
        "ledger.waiver_posted",
        outbound.WaiverPosted(
            account_id=data.account_id,
            arrangement_id=data.arrangement_id,
            amount_minor=waiver.amount_minor,
            dues=[outbound.WaivedDue(due_id=d, amount_minor=a) for d, a in waiver.per_due],
        ),
        purpose="waiver",
    )
    after = apply_waiver(account, waiver)
    _publish_if_moved(uow, data.account_id, balance(account, tolerance), balance(after, tolerance))
    await accounts.put(data.account_id, after)


async def _change(
    uow: UnitOfWork,
    account_id: str,
    change: Callable[[LedgerAccount], LedgerAccount],
    *,
    stored: Envelope | None = None,
) -> None:
    """Apply `change` to the account; when it moved, append the cause (or `stored`) to the account's
    stream, keep the new snapshot and publish `ledger.balance_changed` if the balance moved.

    An event that changes nothing is not stored; a refused payment or reversal is rejected
    (`system.event_rejected`) and changes nothing.
    """
    accounts = LedgerAccounts.of(uow)
    before = await accounts.account(account_id)
    try:
        after = change(before)
    except (ConflictingPaymentError, UnknownPaymentError) as exc:
        uow.reject(str(exc))
        return
    if after == before:
        return
    tolerance = uow.config.ledger.tolerance_minor
    moved = balance(after, tolerance)
    if moved.credit_minor > MAX_MINOR_UNITS or sum(a for _d, _on, a in moved.unpaid_dues) > MAX_MINOR_UNITS:
        # Each amount is within the contract's bound, but their sum would not be, and the
        # balance_changed stating it could not be published (found by the fuzz campaign: the
        # handler failed and the event was dead-lettered).
        uow.reject(f"data: the account's dues or credit would pass {MAX_MINOR_UNITS:,} minor units (README, Limits)")
        return
    assert uow.cause is not None
    await uow.append(account_id, await uow.stream_version(account_id), [stored or uow.cause])
    await accounts.put(account_id, after)
    _publish_if_moved(uow, account_id, balance(before, tolerance), moved)


def _publish_if_moved(uow: UnitOfWork, account_id: str, before: Balance, after: Balance) -> None:
    if after == before:
        return
    uow.emit(
        "ledger.balance_changed",
        outbound.BalanceChanged(
            account_id=account_id,
            unpaid_dues=[
                outbound.UnpaidDue(due_id=d, due_date=on, unpaid_minor=amount) for d, on, amount in after.unpaid_dues
            ],
            credit_minor=after.credit_minor,
            cause_id=uow.cause.id if uow.cause else "",
        ),
        purpose="balance",
    )


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    """Read the snapshots of a batch's accounts in one round trip (docs/decisions/0007)."""
    await LedgerAccounts.of(uow).prefetch(
        dict.fromkeys(a for e in events if (a := getattr(e.data, "account_id", None)) is not None)
    )


HANDLERS: HandlerTable = {
    inbound.AccountOpened: on_opening,
    inbound.PaymentDue: on_due,
    inbound.PaymentReceived: on_payment,
    inbound.PaymentReversed: on_reversal,
    outbound.ArrangementCompleted: on_arrangement_completed,
}
"""Every event the ledger consumes, by its contract model; the subscription follows from it (spec.py)."""
