"""The ledger's handler for every event it consumes (behaviour.md, Ledger; Arrangements for waivers)."""

from __future__ import annotations

from collections_events import inbound, outbound
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event
from collections_ledger.domain.account import (
    Balance,
    LedgerAccount,
    UnknownPaymentError,
    apply_due,
    apply_payment,
    apply_reversal,
    apply_waiver,
    balance,
    settlement_waiver,
)
from collections_ledger.domain.fold import due_from, fold, payment_from


async def handle(event: Event, uow: UnitOfWork) -> None:
    """Fold the event into its account; publish `ledger.balance_changed` when the balance moved.

    A reversal of a payment never seen is answered with `system.event_rejected` and changes nothing.
    """
    data = event.data
    account_id: str | None = getattr(data, "account_id", None)
    if account_id is None:
        return
    history = await uow.read_stream(account_id)
    version = history[-1].version if history else 0
    account = fold((e.type, e.data) for e in history)
    tolerance = uow.config.ledger.tolerance_minor
    before = balance(account, tolerance)

    if isinstance(data, inbound.PaymentDue):
        after_account = apply_due(account, due_from(event.envelope.data))
    elif isinstance(data, inbound.PaymentReceived):
        after_account = apply_payment(account, payment_from(event.envelope.data))
    elif isinstance(data, inbound.PaymentReversed):
        try:
            after_account = apply_reversal(account, data.payment_id)
        except UnknownPaymentError as exc:
            uow.reject(str(exc))
            return
    elif isinstance(data, outbound.ArrangementCompleted):
        await _post_settlement_waiver(uow, event, account, data, version)
        return
    else:
        return
    if after_account == account:
        return
    await uow.append(account_id, version, [event.envelope])
    _publish_if_moved(uow, account_id, before, balance(after_account, tolerance), purpose="balance")


async def _post_settlement_waiver(
    uow: UnitOfWork, event: Event, account: LedgerAccount, data: outbound.ArrangementCompleted, version: int
) -> None:
    """A completed settlement forgives the rest of the dues due on or before its `made_on`."""
    if data.kind != "settlement" or account.has_waiver(data.arrangement_id):
        return
    tolerance = uow.config.ledger.tolerance_minor
    before = balance(account, tolerance)
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
    _publish_if_moved(uow, data.account_id, before, balance(apply_waiver(account, waiver), tolerance), "balance")


def _publish_if_moved(uow: UnitOfWork, account_id: str, before: Balance, after: Balance, purpose: str) -> None:
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
        purpose=purpose,
    )
