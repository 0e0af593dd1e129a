"""Rebuild an account from its stored events (the ledger's stream is its source of truth)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from collections_ledger.domain.account import (
    Due,
    LedgerAccount,
    Opening,
    Payment,
    Waiver,
    apply_due,
    apply_opening,
    apply_payment,
    apply_reversal,
    apply_waiver,
)


def due_from(data: Mapping[str, Any]) -> Due:
    """A Due from `payment.due` data (dates as ISO strings or dates)."""
    return Due(
        due_id=data["due_id"],
        due_date=_date(data["due_date"]),
        amount_minor=data["amount_due_minor"],
        statement_balance_minor=data["statement_balance_minor"],
    )


def payment_from(data: Mapping[str, Any]) -> Payment:
    """A Payment from `payment.received` data."""
    return Payment(data["payment_id"], data["amount_minor"], _date(data["received_on"]))


def opening_from(data: Mapping[str, Any]) -> Opening:
    """An Opening from `account.opened` data (only product, currency and opened_on are read)."""
    return Opening(data["product"], data["currency"], _date(data["opened_on"]))


def waiver_from(data: Mapping[str, Any]) -> Waiver:
    """A Waiver from `ledger.waiver_posted` data."""
    return Waiver(data["arrangement_id"], tuple((d["due_id"], d["amount_minor"]) for d in data["dues"]))


def fold(events: Iterable[tuple[str, Mapping[str, Any]]]) -> LedgerAccount:
    """The account after `events` (type, data) in stream order; other types are ignored."""
    account = LedgerAccount()
    for type_name, data in events:
        if type_name == "payment.due":
            account = apply_due(account, due_from(data))
        elif type_name == "payment.received":
            account = apply_payment(account, payment_from(data))
        elif type_name == "payment.reversed":
            account = apply_reversal(account, data["payment_id"])
        elif type_name == "account.opened":
            account = apply_opening(account, opening_from(data))
        elif type_name == "ledger.waiver_posted":
            account = apply_waiver(account, waiver_from(data))
    return account


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
