"""The ledger's read models: an account's money and its stream, from the event log (decision 0008).

Both read the account's stream through a unit of work used for reading only (`read_stream`, no
writes) and fold it as the handlers do (the stream is the record; the snapshot is not read here).
An account is unknown (None) until the ledger stored an event of it. Money in minor units.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from collections_events.store.uow import UnitOfWork
from collections_ledger.app.facts import changes_of
from collections_ledger.domain.account import Payment, balance
from collections_ledger.domain.fold import fold


class UnpaidDueOut(BaseModel):
    """One unpaid due (beyond the tolerance), in minor units."""

    due_id: str
    due_date: date
    unpaid_minor: int


class PaymentOut(BaseModel):
    """A payment as received, in minor units."""

    payment_id: str
    amount_minor: int
    received_on: date


class WaiverOut(BaseModel):
    """What a completed settlement forgave, in minor units."""

    arrangement_id: str
    amount_minor: int


class AccountOut(BaseModel):
    """An account's money as the ledger folds it: unpaid dues oldest first, credit, payments, waivers."""

    account_id: str
    currency: str | None
    opened_on: date | None
    unpaid_dues: list[UnpaidDueOut]
    credit_minor: int
    payments: list[PaymentOut]
    reversed_payments: list[PaymentOut]
    waivers: list[WaiverOut]


class StoredEventOut(BaseModel):
    """One event of the account's stream, in stream order."""

    version: int
    event_id: str
    type: str
    time: str
    data: dict[str, Any]


async def account_view(reader: UnitOfWork, account_id: str) -> AccountOut | None:
    """The account's unpaid dues (with the configured tolerance), credit, payments and waivers; None if unknown."""
    events = await reader.read_stream(account_id)
    if not events:
        return None
    folded = fold(changes_of(events))
    now = balance(folded, reader.config.ledger.tolerance_minor)
    return AccountOut(
        account_id=account_id,
        currency=folded.opening.currency if folded.opening else None,
        opened_on=folded.opening.opened_on if folded.opening else None,
        unpaid_dues=[UnpaidDueOut(due_id=d, due_date=on, unpaid_minor=a) for d, on, a in now.unpaid_dues],
        credit_minor=now.credit_minor,
        payments=[_payment(p) for p in folded.payments],
        reversed_payments=[_payment(p) for p in folded.reversed_payments],
        waivers=[WaiverOut(arrangement_id=w.arrangement_id, amount_minor=w.amount_minor) for w in folded.waivers],
    )


async def stream_view(reader: UnitOfWork, account_id: str) -> list[StoredEventOut] | None:
    """The account's stream, oldest first: what changed it and what the ledger published; None if unknown."""
    events = await reader.read_stream(account_id)
    if not events:
        return None
    return [
        StoredEventOut(version=e.version, event_id=e.event_id, type=e.type, time=e.time, data=e.data) for e in events
    ]


def _payment(payment: Payment) -> PaymentOut:
    return PaymentOut(payment_id=payment.payment_id, amount_minor=payment.amount_minor, received_on=payment.received_on)
