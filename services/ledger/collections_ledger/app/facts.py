"""Contract models and stored events -> the ledger's domain values (the domain never sees a Mapping).

Two sources: the validated data model of an event being handled (`due_of`, `payment_of`,
`opening_of`), and an event read back from the account's stream, whose data is the JSON stored
(dates as ISO strings; `change_of`). Amounts are integer minor units, dates business dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from collections_events import inbound
from collections_events.store.uow import StoredEvent
from collections_ledger.domain.account import Due, Opening, Payment, Waiver
from collections_ledger.domain.fold import Change, Reversal

OPENING_FIELDS = ("account_id", "product", "currency", "opened_on")
"""What the ledger stores of `account.opened`: no personal data (contacts stay with outreach)."""


def due_of(data: inbound.PaymentDue) -> Due:
    """The due a `payment.due` announces."""
    return Due(data.due_id, data.due_date, data.amount_due_minor, data.statement_balance_minor)


def payment_of(data: inbound.PaymentReceived) -> Payment:
    """The payment a `payment.received` reports."""
    return Payment(data.payment_id, data.amount_minor, data.received_on)


def opening_of(data: inbound.AccountOpened) -> Opening:
    """What the ledger keeps of `account.opened`: product, currency, opening date."""
    return Opening(data.product, data.currency, data.opened_on)


def change_of(type_name: str, data: Mapping[str, Any]) -> Change | None:
    """The change a stored event made (None for a type that changes nothing: what the ledger published).

    Raises KeyError/ValueError on stored data that lacks a field or holds a bad date.
    """
    if type_name == "payment.due":
        on = date.fromisoformat(data["due_date"])
        return Due(data["due_id"], on, data["amount_due_minor"], data["statement_balance_minor"])
    if type_name == "payment.received":
        return Payment(data["payment_id"], data["amount_minor"], date.fromisoformat(data["received_on"]))
    if type_name == "payment.reversed":
        return Reversal(data["payment_id"])
    if type_name == "account.opened":
        return Opening(data["product"], data["currency"], date.fromisoformat(data["opened_on"]))
    if type_name == "ledger.waiver_posted":
        return Waiver(data["arrangement_id"], tuple((d["due_id"], d["amount_minor"]) for d in data["dues"]))
    return None


def changes_of(events: Iterable[StoredEvent]) -> list[Change]:
    """The changes of an account's stream, in stream order."""
    return [c for c in (change_of(e.type, e.data) for e in events) if c is not None]
