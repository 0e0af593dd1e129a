"""Properties of the ledger's fold (behaviour.md, Ledger; docs/decisions/0001 pooled allocation)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_ledger.domain.account import (
    ConflictingPaymentError,
    Due,
    LedgerAccount,
    Payment,
    UnknownPaymentError,
    apply_due,
    apply_payment,
    apply_reversal,
    apply_waiver,
    balance,
    due_statuses,
    settlement_waiver,
)

START = date(2024, 1, 1)


@st.composite
def dues(draw: st.DrawFn) -> list[Due]:
    n = draw(st.integers(0, 6))
    return [
        Due(f"d{i}", START + timedelta(days=draw(st.integers(0, 120))), draw(st.integers(0, 5000)), 9999)
        for i in range(n)
    ]


@st.composite
def payments(draw: st.DrawFn) -> list[Payment]:
    n = draw(st.integers(0, 6))
    return [Payment(f"p{i}", draw(st.integers(1, 5000)), START) for i in range(n)]


def build(ds: list[Due], ps: list[Payment]) -> LedgerAccount:
    account = LedgerAccount()
    for d in ds:
        account = apply_due(account, d)
    for p in ps:
        account = apply_payment(account, p)
    return account


@given(dues(), payments(), st.integers(0, 50))
@settings(deadline=None)
def test_allocated_never_exceeds_paid_nor_due(ds: list[Due], ps: list[Payment], tolerance: int) -> None:
    statuses, credit = due_statuses(build(ds, ps), tolerance)
    paid = sum(p.amount_minor for p in ps)
    allocated = sum(s.paid_minor for s in statuses)
    assert allocated <= paid
    assert all(0 <= s.paid_minor <= s.due.amount_minor for s in statuses)
    assert credit == paid - allocated >= 0
    # credit only when every due is fully paid
    if credit > 0:
        assert all(s.remainder_minor == 0 for s in statuses)


@given(dues(), payments(), st.data())
@settings(deadline=None)
def test_reversal_then_same_payment_again_gives_the_state_from_before(
    ds: list[Due], ps: list[Payment], data: st.DataObject
) -> None:
    account = build(ds, ps)
    if not ps:
        return
    p = data.draw(st.sampled_from(ps))
    again = apply_payment(apply_reversal(account, p.payment_id), p)
    assert again == account
    assert balance(again, 0) == balance(account, 0)


@given(dues(), payments(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_state_does_not_depend_on_arrival_order(ds: list[Due], ps: list[Payment], rnd: object) -> None:
    events: list[Due | Payment] = [*ds, *ps]
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    account = LedgerAccount()
    for e in shuffled:
        account = apply_due(account, e) if isinstance(e, Due) else apply_payment(account, e)
    assert account == build(ds, ps)


def test_oldest_due_is_paid_first_and_the_rest_is_credit() -> None:
    account = build(
        [Due("b", date(2024, 2, 10), 500, 0), Due("a", date(2024, 1, 10), 300, 0)],
        [Payment("p1", 400, START)],
    )
    assert balance(account, 0).unpaid_dues == (("b", date(2024, 2, 10), 400),)
    account = apply_payment(account, Payment("p2", 1000, START))
    assert balance(account, 0).unpaid_dues == ()
    assert balance(account, 0).credit_minor == 600
    # credit pays the next due when it arrives
    account = apply_due(account, Due("c", date(2024, 3, 10), 700, 0))
    assert balance(account, 0).unpaid_dues == (("c", date(2024, 3, 10), 100),)
    assert balance(account, 0).credit_minor == 0


def test_reversal_makes_a_paid_due_unpaid_with_its_original_date() -> None:
    account = build([Due("a", date(2024, 1, 10), 300, 0)], [Payment("p1", 300, START)])
    assert balance(account, 0).unpaid_dues == ()
    reversed_ = apply_reversal(account, "p1")
    assert balance(reversed_, 0).unpaid_dues == (("a", date(2024, 1, 10), 300),)
    assert [p.payment_id for p in reversed_.reversed_payments] == ["p1"]
    # a second reversal of the same payment changes nothing
    assert apply_reversal(reversed_, "p1") == reversed_


def test_unknown_reversal_is_refused() -> None:
    with pytest.raises(UnknownPaymentError, match="never received"):
        apply_reversal(LedgerAccount(), "nope")


def test_repeated_due_and_payment_change_nothing() -> None:
    account = build([Due("a", date(2024, 1, 10), 300, 0)], [Payment("p1", 100, START)])
    assert apply_due(account, Due("a", date(2024, 1, 11), 999, 0)) == account
    assert apply_payment(account, Payment("p1", 100, START)) == account
    with pytest.raises(ConflictingPaymentError, match="999"):  # another amount: rejected (issue 15)
        apply_payment(account, Payment("p1", 999, START))


@pytest.mark.parametrize(
    ("tolerance", "paid", "unpaid"),
    [
        (0, 1000, None),
        (0, 999, 1),
        (10, 990, None),  # exactly amount - tolerance paid: counts as paid
        (10, 989, 11),  # one minor unit short of the tolerance: unpaid
        (10, 0, 1000),
        (1000, 0, None),  # a tolerance as large as the due: never unpaid
    ],
)
def test_tolerance_edges(tolerance: int, paid: int, unpaid: int | None) -> None:
    ps = [Payment("p", paid, START)] if paid else []
    b = balance(build([Due("a", date(2024, 1, 10), 1000, 0)], ps), tolerance)
    assert b.unpaid_dues == (() if unpaid is None else (("a", date(2024, 1, 10), unpaid),))


def test_settlement_waiver_forgives_dues_on_or_before_made_on_only() -> None:
    account = build(
        [
            Due("a", date(2024, 1, 10), 1000, 0),
            Due("b", date(2024, 2, 10), 1000, 0),
            Due("c", date(2024, 3, 10), 1000, 0),
        ],
        [Payment("p", 1200, START)],
    )
    waiver = settlement_waiver(account, "arr", date(2024, 2, 10), 0)
    assert waiver.per_due == (("b", 800),)
    after = apply_waiver(account, waiver)
    assert balance(after, 0).unpaid_dues == (("c", date(2024, 3, 10), 1000),)
    # a reversal after the waiver: the amounts forgiven stay forgiven, what the payment paid is owed again
    assert balance(apply_reversal(after, "p"), 0).unpaid_dues == (
        ("a", date(2024, 1, 10), 1000),
        ("b", date(2024, 2, 10), 200),
        ("c", date(2024, 3, 10), 1000),
    )
