"""The ledger's accounts: one JSON snapshot per account (decision 0008; issue 14).

The ledger decides from the folded account, not from its stream: the snapshot is the fold, kept
at every change, so the cost of an event does not grow with the account's age. The stream stays
the record (the API and audits read it); folding it gives the same account as the snapshot. An
account with a stream and no snapshot (a database from before snapshots) is folded once from it.

The stored shape (stream id = account id, lists of lists, dates ISO 8601, amounts integer minor
units) is what existing databases hold: keep it stable.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collections_events.store.repository import SnapshotRepository
from collections_ledger.app.facts import changes_of
from collections_ledger.domain.account import Due, LedgerAccount, Opening, Payment, Waiver
from collections_ledger.domain.fold import fold


class LedgerAccounts(SnapshotRepository[LedgerAccount]):
    """The batch's ledger accounts (`LedgerAccounts.of(uow)`); a snapshot never wakes (no close rule)."""

    def encode(self, value: LedgerAccount) -> dict[str, Any]:
        """The snapshot of `value`."""
        return to_state(value)

    def decode(self, account_id: str, state: dict[str, Any]) -> LedgerAccount:
        """The account a snapshot holds. Raises KeyError/ValueError on a bad one."""
        return from_state(state)

    def wake_on(self, value: LedgerAccount) -> date | None:
        """None: the ledger does nothing on a close."""
        return None

    async def account(self, account_id: str) -> LedgerAccount:
        """The account as this transaction sees it: its snapshot, else the fold of its stream, else empty."""
        found = await self.get(account_id)
        if found is not None:
            return found
        if await self.uow.stream_version(account_id) == 0:
            return LedgerAccount()
        return fold(changes_of(await self.uow.read_stream(account_id)))


def to_state(account: LedgerAccount) -> dict[str, Any]:
    """The snapshot of `account` (lists of lists, in the account's own order)."""
    return {
        "dues": [[d.due_id, d.due_date.isoformat(), d.amount_minor, d.statement_balance_minor] for d in account.dues],
        "payments": [_payment(p) for p in account.payments],
        "reversed": [_payment(p) for p in account.reversed_payments],
        "waivers": [[w.arrangement_id, [list(pair) for pair in w.per_due]] for w in account.waivers],
        "opening": None
        if account.opening is None
        else [account.opening.product, account.opening.currency, account.opening.opened_on.isoformat()],
    }


def from_state(state: dict[str, Any]) -> LedgerAccount:
    """The account a snapshot holds (the inverse of `to_state`). Raises KeyError/ValueError on a bad one."""
    opening = state["opening"]
    return LedgerAccount(
        dues=tuple(Due(i, date.fromisoformat(on), amount, balance) for i, on, amount, balance in state["dues"]),
        payments=tuple(_from_payment(p) for p in state["payments"]),
        reversed_payments=tuple(_from_payment(p) for p in state["reversed"]),
        waivers=tuple(Waiver(a, tuple((d, int(m)) for d, m in per_due)) for a, per_due in state["waivers"]),
        opening=None if opening is None else Opening(opening[0], opening[1], date.fromisoformat(opening[2])),
    )


def _payment(p: Payment) -> list[Any]:
    return [p.payment_id, p.amount_minor, p.received_on.isoformat()]


def _from_payment(p: list[Any]) -> Payment:
    return Payment(p[0], p[1], date.fromisoformat(p[2]))
