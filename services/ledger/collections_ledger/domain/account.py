"""An account's dues, payments and waivers, and how the money is allocated (behaviour.md, Ledger).

Allocation is a function of the set of dues and payments, not of their arrival order: every active
payment is pooled and pays the dues oldest first (by due date, then due id); what is left is credit.
That is the spec's "oldest unpaid due first, the rest to later dues, the rest as credit that pays the
next due when it arrives", made independent of the order in which billing and payments topics
happen to arrive (behaviour.md, Time and order). All amounts are integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date


@dataclass(frozen=True)
class Due:
    """A minimum payment due: `amount_minor` on `due_date` (a business date)."""

    due_id: str
    due_date: date
    amount_minor: int
    statement_balance_minor: int


@dataclass(frozen=True)
class Payment:
    """A payment received on `received_on`, in minor units."""

    payment_id: str
    amount_minor: int
    received_on: date


@dataclass(frozen=True)
class Opening:
    """What the ledger keeps of `account.opened`: the product, its currency and the opening date."""

    product: str
    currency: str
    opened_on: date


@dataclass(frozen=True)
class Waiver:
    """What a completed settlement forgave, per due id, in minor units."""

    arrangement_id: str
    per_due: tuple[tuple[str, int], ...]

    @property
    def amount_minor(self) -> int:
        """The total forgiven."""
        return sum(amount for _, amount in self.per_due)


@dataclass(frozen=True)
class DueStatus:
    """How much of a due is paid (payments plus waivers) and whether it still counts as unpaid."""

    due: Due
    paid_minor: int
    waived_minor: int
    unpaid: bool

    @property
    def remainder_minor(self) -> int:
        """What is left of the due, whatever the tolerance."""
        return self.due.amount_minor - self.paid_minor - self.waived_minor


@dataclass(frozen=True)
class Balance:
    """Unpaid dues (oldest first) as (due_id, due_date, unpaid_minor), and the credit."""

    unpaid_dues: tuple[tuple[str, date, int], ...]
    credit_minor: int


@dataclass(frozen=True)
class LedgerAccount:
    """The ledger's state of one account: a fold over its events (see `apply_*`).

    Dues are kept sorted by (due_date, due_id), payments and reversed payments by payment_id, and
    waivers by arrangement_id, so the state is the same whatever order the events arrived in.
    """

    dues: tuple[Due, ...] = ()
    payments: tuple[Payment, ...] = ()
    reversed_payments: tuple[Payment, ...] = ()
    waivers: tuple[Waiver, ...] = field(default=())
    opening: Opening | None = None

    def has_due(self, due_id: str) -> bool:
        """Whether a due with `due_id` is already on the account."""
        return any(d.due_id == due_id for d in self.dues)

    def has_payment(self, payment_id: str) -> bool:
        """Whether `payment_id` is an active (applied, not reversed) payment."""
        return any(p.payment_id == payment_id for p in self.payments)

    def has_reversed(self, payment_id: str) -> bool:
        """Whether `payment_id` was received and then reversed (and not received again)."""
        return any(p.payment_id == payment_id for p in self.reversed_payments)

    def has_seen_payment(self, payment_id: str) -> bool:
        """Whether the ledger has ever seen `payment_id` (active or reversed)."""
        return self.has_payment(payment_id) or self.has_reversed(payment_id)

    def has_waiver(self, arrangement_id: str) -> bool:
        """Whether the settlement `arrangement_id` already posted its waiver."""
        return any(w.arrangement_id == arrangement_id for w in self.waivers)


def apply_due(account: LedgerAccount, due: Due) -> LedgerAccount:
    """Add a due; `due_id` is its business key, so a repeated due changes nothing."""
    if account.has_due(due.due_id):
        return account
    return replace(account, dues=tuple(sorted((*account.dues, due), key=lambda d: (d.due_date, d.due_id))))


def apply_payment(account: LedgerAccount, payment: Payment) -> LedgerAccount:
    """Apply a payment; `payment_id` is its business key, so a repeat of an active payment changes nothing.

    A payment received again after its reversal applies again (the reversal is undone), with the
    amount and date of the new receipt. Raises ConflictingPaymentError when `payment_id` stands with
    another amount (behaviour.md, Ledger: rejected, naming both amounts).
    """
    standing = next((p for p in account.payments if p.payment_id == payment.payment_id), None)
    if standing is not None:
        if standing.amount_minor != payment.amount_minor:
            raise ConflictingPaymentError(payment.payment_id, standing.amount_minor, payment.amount_minor)
        return account
    return replace(
        account,
        payments=_by_id((*account.payments, payment)),
        reversed_payments=tuple(p for p in account.reversed_payments if p.payment_id != payment.payment_id),
    )


def apply_reversal(account: LedgerAccount, payment_id: str) -> LedgerAccount:
    """Remove an active payment as if it had never been applied (the allocation is recomputed).

    Raises UnknownPaymentError when the ledger has never seen `payment_id` (behaviour.md, Ledger).
    """
    if not account.has_seen_payment(payment_id):
        raise UnknownPaymentError(payment_id)
    if not account.has_payment(payment_id):
        return account
    removed = next(p for p in account.payments if p.payment_id == payment_id)
    return replace(
        account,
        payments=tuple(p for p in account.payments if p.payment_id != payment_id),
        reversed_payments=_by_id((*account.reversed_payments, removed)),
    )


def apply_opening(account: LedgerAccount, opening: Opening) -> LedgerAccount:
    """Record the account's opening; the first one is kept. Money is not touched: dues and payments
    that arrived before the opening stay (behaviour.md, Ledger)."""
    if account.opening is not None:
        return account
    return replace(account, opening=opening)


def apply_waiver(account: LedgerAccount, waiver: Waiver) -> LedgerAccount:
    """Record a settlement's waiver; one per arrangement."""
    if account.has_waiver(waiver.arrangement_id):
        return account
    return replace(account, waivers=tuple(sorted((*account.waivers, waiver), key=lambda w: w.arrangement_id)))


def _by_id(payments: tuple[Payment, ...]) -> tuple[Payment, ...]:
    return tuple(sorted(payments, key=lambda p: p.payment_id))


class UnknownPaymentError(ValueError):
    """A reversal names a payment the ledger has never seen."""

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"payment.reversed: payment_id {payment_id!r} was never received")
        self.payment_id = payment_id


class ConflictingPaymentError(ValueError):
    """A `payment.received` repeats a standing `payment_id` with another `amount_minor`."""

    def __init__(self, payment_id: str, standing_minor: int, received_minor: int) -> None:
        super().__init__(
            f"payment.received: amount_minor {received_minor} differs from {standing_minor} "
            f"of the standing payment_id {payment_id!r}"
        )
        self.payment_id = payment_id


def due_statuses(account: LedgerAccount, tolerance_minor: int) -> tuple[tuple[DueStatus, ...], int]:
    """Allocate the pooled payments to the dues oldest first; returns each due's status and the credit.

    A due is unpaid while what has been paid of it (payments and waivers) is less than its amount
    minus `tolerance_minor` (behaviour.md, Ledger).
    """
    waived: dict[str, int] = {}
    for waiver in account.waivers:
        for due_id, amount in waiver.per_due:
            waived[due_id] = waived.get(due_id, 0) + amount
    money = sum(p.amount_minor for p in account.payments)
    statuses = []
    for due in account.dues:  # kept oldest first
        forgiven = min(waived.get(due.due_id, 0), due.amount_minor)
        applied = min(money, due.amount_minor - forgiven)
        money -= applied
        unpaid = applied + forgiven < due.amount_minor - tolerance_minor
        statuses.append(DueStatus(due, applied, forgiven, unpaid))
    return tuple(statuses), money


def balance(account: LedgerAccount, tolerance_minor: int) -> Balance:
    """The account's unpaid dues, oldest first, and its credit (contract.md, ledger.balance_changed)."""
    statuses, credit = due_statuses(account, tolerance_minor)
    unpaid = tuple((s.due.due_id, s.due.due_date, s.remainder_minor) for s in statuses if s.unpaid)
    return Balance(unpaid, credit)


def settlement_waiver(account: LedgerAccount, arrangement_id: str, made_on: date, tolerance_minor: int) -> Waiver:
    """What a completed settlement forgives: the remainder of every due due on or before `made_on`.

    Later dues are never forgiven (behaviour.md, Arrangements).
    """
    statuses, _ = due_statuses(account, tolerance_minor)
    per_due = tuple(
        (s.due.due_id, s.remainder_minor) for s in statuses if s.due.due_date <= made_on and s.remainder_minor > 0
    )
    return Waiver(arrangement_id, per_due)
