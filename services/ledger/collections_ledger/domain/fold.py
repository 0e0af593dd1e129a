"""Rebuild an account from what changed it, in stream order (the ledger's stream is its record).

The changes are domain values (app/facts.py makes them from stored events and contract models);
this module never sees a Mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Reversal:
    """`payment.reversed`: the payment `payment_id` is removed as if never applied."""

    payment_id: str


Change = Due | Payment | Reversal | Opening | Waiver
"""One thing that changes an account's money or its opening (behaviour.md, Ledger)."""


def apply(account: LedgerAccount, change: Change) -> LedgerAccount:
    """The account after `change` (see the `apply_*` functions for the errors each can raise)."""
    if isinstance(change, Due):
        return apply_due(account, change)
    if isinstance(change, Payment):
        return apply_payment(account, change)
    if isinstance(change, Reversal):
        return apply_reversal(account, change.payment_id)
    if isinstance(change, Opening):
        return apply_opening(account, change)
    return apply_waiver(account, change)


def fold(changes: Iterable[Change]) -> LedgerAccount:
    """The account after `changes`, in order, from an empty account."""
    account = LedgerAccount()
    for change in changes:
        account = apply(account, change)
    return account
