"""Delinquency's pure rules: dpd, bucket edges of both presets, publications, charge-off, wake dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_delinquency.domain.account import DelinquencyAccount, evaluate, wake_on
from collections_delinquency.domain.standing import BucketScheme, UnpaidDue, standing_at
from collections_events.config import CN_BUCKETS, US_BUCKETS

US = BucketScheme.of([(b.name, b.from_dpd) for b in US_BUCKETS])
CN = BucketScheme.of([(b.name, b.from_dpd) for b in CN_BUCKETS])
DUE = date(2024, 1, 10)
D = timedelta(days=1)


def edges(scheme: BucketScheme) -> list[tuple[BucketScheme, int, str, str]]:
    """(scheme, first dpd of a bucket, the bucket before, the bucket) for every bucket after the first."""
    return [(scheme, s, scheme.names[i - 1], scheme.names[i]) for i, s in enumerate(scheme.starts) if i > 0]


@pytest.mark.parametrize(("scheme", "start", "before", "bucket"), edges(US) + edges(CN))
def test_every_bucket_edge_day_before_day_of_day_after(
    scheme: BucketScheme, start: int, before: str, bucket: str
) -> None:
    dues = (UnpaidDue(DUE, 1000),)
    edge = DUE + start * D
    assert standing_at(dues, edge - D, scheme).bucket == before
    assert standing_at(dues, edge - D, scheme).dpd == start - 1
    assert standing_at(dues, edge, scheme).bucket == bucket
    assert standing_at(dues, edge, scheme).dpd == start
    assert standing_at(dues, edge + D, scheme).bucket == bucket


def test_presets_are_the_spec_tables() -> None:
    assert US.names == ("current", "1-29", "30-59", "60-89", "90-119", "120-149", "150-179", "180+")
    assert US.starts == (0, 1, 30, 60, 90, 120, 150, 180)
    assert CN.names == ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")
    assert CN.starts == (0, 1, 31, 61, 91, 121, 151, 181)


def test_a_due_paid_on_its_due_date_is_never_late() -> None:
    dues = (UnpaidDue(date(2024, 1, 10), 500),)
    on_due_date = standing_at(dues, date(2024, 1, 10), US)
    assert (on_due_date.dpd, on_due_date.delinquent_since, on_due_date.past_due_minor) == (0, None, 0)
    next_day = standing_at(dues, date(2024, 1, 11), US)
    assert (next_day.dpd, next_day.delinquent_since, next_day.past_due_minor) == (1, date(2024, 1, 10), 500)
    assert next_day.bucket == "1-29"


def test_past_due_counts_only_dues_before_the_date() -> None:
    dues = (UnpaidDue(date(2024, 1, 10), 500), UnpaidDue(date(2024, 2, 10), 700))
    s = standing_at(dues, date(2024, 2, 10), US)
    assert (s.dpd, s.past_due_minor) == (31, 500)
    s = standing_at(dues, date(2024, 2, 11), US)
    assert (s.dpd, s.past_due_minor, s.bucket) == (32, 1200, "30-59")


def test_custom_bucket_list() -> None:
    scheme = BucketScheme.of([("ok", 0), ("late", 15), ("bad", 45)])
    dues = (UnpaidDue(DUE, 1),)
    assert [standing_at(dues, DUE + n * D, scheme).bucket for n in (0, 1, 14, 15, 44, 45, 400)] == [
        "ok",
        "ok",
        "ok",
        "late",
        "late",
        "bad",
        "bad",
    ]
    # past due but still in the first bucket: the oldest past-due date moved, so dpd_changed
    account, changes = evaluate(DelinquencyAccount((UnpaidDue(DUE, 1),), "ok"), DUE + D, scheme, 180)
    assert [c.kind for c in changes] == ["dpd_changed"]
    assert account.delinquent_since == DUE
    with pytest.raises(ValueError):
        BucketScheme.of([("a", 1)])
    with pytest.raises(ValueError):
        BucketScheme.of([("a", 0), ("b", 5), ("c", 5)])


def test_bucket_changed_then_dpd_changed_on_a_partial_payment_that_clears_the_oldest_due() -> None:
    first, second = UnpaidDue(date(2024, 1, 10), 500), UnpaidDue(date(2024, 1, 20), 500)
    account = DelinquencyAccount((first, second), "current")
    account, changes = evaluate(account, date(2024, 1, 25), US, 180)
    assert [(c.kind, c.from_bucket, c.standing.bucket, c.standing.dpd) for c in changes] == [
        ("bucket_changed", "current", "1-29", 15)
    ]
    # the oldest due is paid: delinquent_since moves from 10 to 20 January, the bucket stays 1-29
    account, changes = evaluate(
        DelinquencyAccount((second,), account.bucket, account.delinquent_since), date(2024, 1, 25), US, 180
    )
    assert [(c.kind, c.standing.delinquent_since, c.standing.dpd, c.standing.past_due_minor) for c in changes] == [
        ("dpd_changed", date(2024, 1, 20), 5, 500)
    ]
    # nothing moved: nothing to publish
    assert evaluate(account, date(2024, 1, 25), US, 180)[1] == ()


def test_a_cure_goes_straight_to_the_first_bucket() -> None:
    account = DelinquencyAccount((UnpaidDue(DUE, 500),), "current")
    account, _ = evaluate(account, DUE + 100 * D, US, 180)
    assert account.bucket == "90-119"
    cured, changes = evaluate(DelinquencyAccount((), account.bucket, account.delinquent_since), DUE + 100 * D, US, 180)
    assert [(c.kind, c.from_bucket, c.standing.bucket, c.standing.delinquent_since) for c in changes] == [
        ("bucket_changed", "90-119", "current", None)
    ]
    assert cured.delinquent_since is None


def test_charge_off_once_per_episode_and_again_in_a_new_episode() -> None:
    account = DelinquencyAccount((UnpaidDue(DUE, 500),), "current")
    account, changes = evaluate(account, DUE + 179 * D, US, 180)
    assert [c.kind for c in changes] == ["bucket_changed"]
    account, changes = evaluate(account, DUE + 180 * D, US, 180)
    assert [c.kind for c in changes] == ["bucket_changed", "charged_off"]
    assert changes[1].standing.dpd == 180
    account, changes = evaluate(account, DUE + 200 * D, US, 180)
    assert changes == ()
    # a partial payment moves delinquent_since but the episode goes on: no second charge-off
    later = UnpaidDue(DUE + 5 * D, 100)
    account, changes = evaluate(
        DelinquencyAccount((later,), account.bucket, account.delinquent_since, True), DUE + 200 * D, US, 180
    )
    assert [c.kind for c in changes] == ["dpd_changed"]
    # cured: the episode ends; a new episode charges off again
    account, changes = evaluate(
        DelinquencyAccount((), account.bucket, account.delinquent_since, True), DUE + 201 * D, US, 180
    )
    assert not account.charged_off
    new_due = UnpaidDue(DUE + 210 * D, 100)
    account, changes = evaluate(DelinquencyAccount((new_due,), account.bucket), new_due.due_date + 185 * D, US, 180)
    assert [c.kind for c in changes] == ["bucket_changed", "charged_off"]


def test_wake_dates() -> None:
    current = DelinquencyAccount((UnpaidDue(DUE, 1),), "current")
    assert wake_on(current, None, US, 180) == DUE + D
    assert wake_on(current, DUE - 30 * D, US, 180) == DUE + D
    delinquent, _ = evaluate(current, DUE + 40 * D, US, 180)
    assert wake_on(delinquent, DUE + 40 * D, US, 180) == DUE + 60 * D
    late, _ = evaluate(current, DUE + 185 * D, US, 180)
    assert late.charged_off and wake_on(late, DUE + 185 * D, US, 180) is None
    assert wake_on(DelinquencyAccount((), "current"), DUE, US, 180) is None
    # charge-off before the last bucket: it is a wake date of its own
    assert wake_on(evaluate(current, DUE + 95 * D, US, 100)[0], DUE + 95 * D, US, 100) == DUE + 100 * D


@st.composite
def accounts(draw: st.DrawFn) -> tuple[DelinquencyAccount, date]:
    n = draw(st.integers(0, 3))
    dues = tuple(
        sorted(
            (UnpaidDue(DUE + draw(st.integers(0, 60)) * D, draw(st.integers(0, 500))) for _ in range(n)),
            key=lambda d: d.due_date,
        )
    )
    closed = DUE + draw(st.integers(-10, 250)) * D
    return DelinquencyAccount(dues, "current"), closed


@given(accounts(), st.sampled_from([US, CN, BucketScheme.of([("ok", 0), ("late", 15)])]), st.integers(1, 200))
@settings(max_examples=300, deadline=None)
def test_wake_on_is_exactly_the_first_close_that_publishes(
    case: tuple[DelinquencyAccount, date], scheme: BucketScheme, charge_off: int
) -> None:
    """The close index is complete and tight: evaluating daily finds the first change on wake_on."""
    account, closed = case
    account = DelinquencyAccount(account.dues, scheme.first)
    account, _ = evaluate(account, closed, scheme, charge_off)
    wake = wake_on(account, closed, scheme, charge_off)
    day = closed
    for _ in range(400):
        day += D
        after, changes = evaluate(account, day, scheme, charge_off)
        if changes:
            assert day == wake
            return
        assert after == account
    assert wake is None or wake > day
