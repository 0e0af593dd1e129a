"""What legal knows of one account: small copies of other services' facts (decision 0001, Cost).

Legal decides referral at a close D without waiting for any other service's output for D, so it
keeps its own copy of the account's unpaid dues (from `ledger.balance_changed`), its flags (from
`account.flag_set`/`flag_cleared`), its promises and arrangements (from outreach) and the business
dates of its requested contacts (from `outreach.contact_recorded`). Every `apply_*` is a pure
function: the same facts give the same state whatever order they arrive in.
Money is integer minor units; every date here is a business date (`date`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Literal

BLOCKING_FLAGS = frozenset({"dispute", "bankruptcy", "deceased"})
"""Flags under which legal refers no account (behaviour.md, Legal)."""

PromiseStatus = Literal["recorded", "kept", "broken"]
ArrangementStatus = Literal["active", "completed", "broken"]


@dataclass(frozen=True)
class UnpaidDue:
    """A due the ledger still counts as unpaid: `unpaid_minor` of it, due on `due_date`."""

    due_id: str
    due_date: date
    unpaid_minor: int


@dataclass(frozen=True)
class Promise:
    """A promise to pay `amount_minor` by the close of `promised_on`, and what became of it."""

    promise_id: str
    amount_minor: int
    promised_on: date
    status: PromiseStatus = "recorded"


@dataclass(frozen=True)
class Arrangement:
    """A payment plan or settlement made on `made_on` and how it ended (if it has).

    `ended_as_of` is the close at which it was broken; `installment` the one left unmet then;
    `paid_minor` what had been counted toward it when it ended.
    """

    arrangement_id: str
    kind: str
    made_on: date
    total_minor: int
    installments: int
    status: ArrangementStatus = "active"
    ended_as_of: date | None = None
    installment: int | None = None
    paid_minor: int | None = None


@dataclass(frozen=True)
class Decline:
    """An arrangement outreach declined, with its reason and the instant it was asked."""

    kind: str
    reason: str
    at: str


@dataclass(frozen=True)
class Payment:
    """A payment legal has seen on the payments topic: `amount_minor` received on `received_on`;
    `standing` is False once reversed (a re-presented payment stands again)."""

    payment_id: str
    amount_minor: int
    received_on: date
    standing: bool = True


@dataclass(frozen=True)
class OpenPlacement:
    """The account's open placement with agency `agency_id` (behaviour.md, Agencies).

    Placed at the close `as_of`, recalled at the latest at the close of `recall_on`; `commission_pct`
    is the agency's commission when it was placed; `checked_on` the last close that looked at it.
    """

    placement_id: str
    agency_id: str
    as_of: date
    recall_on: date
    commission_pct: Decimal
    checked_on: date


@dataclass(frozen=True)
class LegalAccount:
    """Legal's state of one account.

    `requests` counts the requested contacts per business date (`as_of`) of the request.
    `open_case_id` is the account's one open case, if any. `hold_until_cure` is set when an agent
    closes a case (paid, settled, withdrawn): the account is not referred again until it is cured.
    """

    account_id: str
    unpaid_dues: tuple[UnpaidDue, ...] = ()
    flags: frozenset[str] = frozenset()
    promises: tuple[Promise, ...] = ()
    arrangements: tuple[Arrangement, ...] = ()
    declines: tuple[Decline, ...] = ()
    requests: tuple[tuple[date, int], ...] = ()
    open_case_id: str | None = None
    hold_until_cure: bool = False
    placement: OpenPlacement | None = None
    placed_in_episode: bool = False
    """An account is placed at most once per delinquency episode; a cure ends the episode."""
    payments: tuple[Payment, ...] = ()
    """Payments by `payment_id` (for what an agency collected while it held the account)."""


# -- folding facts in -----------------------------------------------------------------------------
def apply_balance(account: LegalAccount, unpaid: tuple[UnpaidDue, ...]) -> LegalAccount:
    """Replace the unpaid dues (the ledger's latest word); an account with none is cured."""
    ordered = tuple(sorted(unpaid, key=lambda d: (d.due_date, d.due_id)))
    return replace(
        account,
        unpaid_dues=ordered,
        hold_until_cure=account.hold_until_cure and bool(ordered),
        placed_in_episode=account.placed_in_episode and bool(ordered),
    )


def apply_cure(account: LegalAccount) -> LegalAccount:
    """The account is current again (delinquency says dpd 0): a manual close's hold ends, and so
    does the episode (a later one may be placed again)."""
    return replace(account, hold_until_cure=False, placed_in_episode=False)


def apply_payment(account: LegalAccount, payment: Payment) -> LegalAccount:
    """A `payment.received`: a repeat of a standing payment changes nothing; after its reversal the
    same `payment_id` stands again (a re-presented payment; behaviour.md, Ledger)."""
    known = next((p for p in account.payments if p.payment_id == payment.payment_id), None)
    if known is not None and known.standing:
        return account
    others = tuple(p for p in account.payments if p.payment_id != payment.payment_id)
    return replace(account, payments=tuple(sorted((*others, payment), key=lambda p: p.payment_id)))


def apply_reversal(account: LegalAccount, payment_id: str) -> LegalAccount:
    """A `payment.reversed`: the payment no longer counts (unknown payment ids change nothing)."""
    payments = tuple(replace(p, standing=False) if p.payment_id == payment_id else p for p in account.payments)
    return replace(account, payments=payments)


def forget_payments(account: LegalAccount, through: date) -> LegalAccount:
    """Drop payments received on or before `through` while no placement is open: they can count
    toward no placement made at that close or later (collected counts `received_on` after `as_of`)."""
    if account.placement is not None:
        return account
    kept = tuple(p for p in account.payments if p.received_on > through)
    return account if len(kept) == len(account.payments) else replace(account, payments=kept)


def apply_flag(account: LegalAccount, flag: str, *, is_set: bool) -> LegalAccount:
    """Set or clear one account flag."""
    flags = account.flags | {flag} if is_set else account.flags - {flag}
    return replace(account, flags=frozenset(flags))


def apply_promise(account: LegalAccount, promise: Promise) -> LegalAccount:
    """Record a promise or its settling; a settled promise (kept or broken) is final."""
    others = tuple(p for p in account.promises if p.promise_id != promise.promise_id)
    known = next((p for p in account.promises if p.promise_id == promise.promise_id), None)
    if known is not None and known.status != "recorded":
        return account
    return replace(account, promises=tuple(sorted((*others, promise), key=lambda p: p.promise_id)))


def apply_arrangement(account: LegalAccount, arrangement: Arrangement) -> LegalAccount:
    """Record an arrangement made; a repeat changes nothing (its end is kept)."""
    if any(a.arrangement_id == arrangement.arrangement_id for a in account.arrangements):
        return account
    return replace(account, arrangements=(*account.arrangements, arrangement))


def end_arrangement(
    account: LegalAccount,
    arrangement: Arrangement,
    status: ArrangementStatus,
    *,
    as_of: date | None = None,
    installment: int | None = None,
    paid_minor: int | None = None,
) -> LegalAccount:
    """Mark an arrangement completed or broken (its first end is final).

    `arrangement` stands in for one not yet seen made (the end arrived first); it is recorded then.
    """
    known = next((a for a in account.arrangements if a.arrangement_id == arrangement.arrangement_id), None)
    if known is None:
        account = apply_arrangement(account, arrangement)
        known = arrangement
    if known.status != "active":
        return account
    ended = replace(known, status=status, ended_as_of=as_of, installment=installment, paid_minor=paid_minor)
    return replace(
        account,
        arrangements=tuple(ended if a.arrangement_id == known.arrangement_id else a for a in account.arrangements),
    )


def apply_decline(account: LegalAccount, decline: Decline) -> LegalAccount:
    """Keep a declined arrangement for the evidence bundle."""
    if decline in account.declines:
        return account
    return replace(account, declines=(*account.declines, decline))


def apply_request(account: LegalAccount, as_of: date) -> LegalAccount:
    """Count one requested contact asked for by the evaluation of business date `as_of`."""
    counts = dict(account.requests)
    counts[as_of] = counts.get(as_of, 0) + 1
    return replace(account, requests=tuple(sorted(counts.items())))


# -- questions at a close D -----------------------------------------------------------------------
def past_due(account: LegalAccount, on: date) -> tuple[int, int]:
    """(dpd, past_due_minor) on business date `on` (behaviour.md, Delinquency).

    dpd = `on` - the oldest due date among unpaid dues dated before `on`, in days (0 when none);
    past_due_minor = what is unpaid of those dues.
    """
    late = [d for d in account.unpaid_dues if d.due_date < on]
    if not late:
        return 0, 0
    return (on - min(d.due_date for d in late)).days, sum(d.unpaid_minor for d in late)


def attempts_before(account: LegalAccount, on: date) -> int:
    """Requested contacts whose `as_of` is before `on` (behaviour.md, Legal)."""
    return sum(count for as_of, count in account.requests if as_of < on)


def active_promises(account: LegalAccount, on: date) -> list[Promise]:
    """The promises active at `on`: recorded, not kept, `promised_on` on or after `on` (behaviour.md, Legal)."""
    return [p for p in account.promises if p.status != "kept" and p.promised_on >= on]


def active_promise(account: LegalAccount, on: date) -> bool:
    """Whether a promise is active at `on` (active_promises)."""
    return bool(active_promises(account, on))


def active_arrangements(account: LegalAccount, on: date) -> list[Arrangement]:
    """The arrangements active at `on`: made, not completed, not broken at a close before `on`."""
    return [a for a in account.arrangements if _arrangement_active(a, on)]


def active_arrangement(account: LegalAccount, on: date) -> bool:
    """Whether an arrangement is active at `on` (active_arrangements)."""
    return bool(active_arrangements(account, on))


def _arrangement_active(arrangement: Arrangement, on: date) -> bool:
    if arrangement.status == "completed":
        return False
    if arrangement.status == "broken":
        return arrangement.ended_as_of is None or arrangement.ended_as_of >= on
    return True
