"""The ledger's handler for every event it consumes (behaviour.md, Ledger; Arrangements for waivers)."""

from __future__ import annotations

from collections_events import inbound, outbound
from collections_events.envelope import Envelope
from collections_events.store.uow import Snapshot, UnitOfWork
from collections_events.validation import Event
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
from collections_ledger.domain.fold import due_from, fold, opening_from, payment_from
from collections_ledger.domain.snapshot import from_state, to_state

OPENING_FIELDS = ("account_id", "product", "currency", "opened_on")
"""What the ledger stores of `account.opened`: no personal data (contacts stay with outreach)."""


async def handle(event: Event, uow: UnitOfWork) -> None:
    """Fold the event into its account; publish `ledger.balance_changed` when the balance moved.

    The account's stream holds the inbound events that changed it and what the ledger published
    about it; an event that changes nothing (a repeated `due_id` or `payment_id`) is not stored.
    A reversal of a payment never seen is answered with `system.event_rejected` and changes nothing.
    """
    data = event.data
    account_id: str | None = getattr(data, "account_id", None)
    if account_id is None:
        return
    snapshot = await uow.load(account_id)
    account = await _current(uow, account_id, snapshot)
    tolerance = uow.config.ledger.tolerance_minor
    stored: Envelope = event.envelope

    if isinstance(data, inbound.PaymentDue):
        after_account = apply_due(account, due_from(event.envelope.data))
    elif isinstance(data, inbound.PaymentReceived):
        try:
            after_account = apply_payment(account, payment_from(event.envelope.data))
        except ConflictingPaymentError as exc:
            uow.reject(str(exc))
            return
    elif isinstance(data, inbound.PaymentReversed):
        try:
            after_account = apply_reversal(account, data.payment_id)
        except UnknownPaymentError as exc:
            uow.reject(str(exc))
            return
    elif isinstance(data, inbound.AccountOpened):
        after_account = apply_opening(account, opening_from(event.envelope.data))
        stored = event.envelope.model_copy(update={"data": {k: event.envelope.data[k] for k in OPENING_FIELDS}})
    elif isinstance(data, outbound.ArrangementCompleted):
        after = _post_settlement_waiver(uow, account, data)
        if after is not None:
            await _save(uow, account_id, snapshot, after)
        return
    else:
        return
    if after_account == account:
        return
    await uow.append(account_id, await uow.stream_version(account_id), [stored])
    await _save(uow, account_id, snapshot, after_account)
    _publish_if_moved(uow, account_id, balance(account, tolerance), balance(after_account, tolerance))


async def _current(uow: UnitOfWork, account_id: str, snapshot: Snapshot | None) -> LedgerAccount:
    """The account from its snapshot; from its stream when it has none yet (a database from before snapshots)."""
    if snapshot is not None:
        return from_state(snapshot.state)
    if await uow.stream_version(account_id) == 0:
        return LedgerAccount()
    return fold((e.type, e.data) for e in await uow.read_stream(account_id))


async def _save(uow: UnitOfWork, account_id: str, snapshot: Snapshot | None, account: LedgerAccount) -> None:
    """Keep the account's snapshot at its new state (optimistic: the version it was read at)."""
    version = snapshot.version if snapshot is not None else 0
    await uow.save(account_id, to_state(account), expected_version=version, wake_on=None)


def _post_settlement_waiver(
    uow: UnitOfWork, account: LedgerAccount, data: outbound.ArrangementCompleted
) -> LedgerAccount | None:
    """A completed settlement forgives the rest of the dues due on or before its `made_on`.

    `ledger.waiver_posted` first, then `ledger.balance_changed` if the balance moved; a plan, or a
    settlement whose waiver is already posted, changes nothing (behaviour.md, Arrangements).
    Returns the account after the waiver (None when nothing was posted).
    """
    if data.kind != "settlement" or account.has_waiver(data.arrangement_id):
        return None
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
    return after


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
