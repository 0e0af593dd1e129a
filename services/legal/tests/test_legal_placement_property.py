"""Properties of placement (behaviour.md, Agencies): the wake date is exactly the first close at which
a placement can be made, and never later than a recall that is due; the hash rule's ranges; the
commission's floor; the snapshot round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from collections_legal.domain.account import (
    Arrangement,
    LegalAccount,
    OpenPlacement,
    Payment,
    Promise,
    UnpaidDue,
)
from collections_legal.domain.codec import from_state, to_state
from collections_legal.domain.placement import (
    AgencyTerms,
    PlacementRules,
    choose_agency,
    commission,
    decide_placement,
    decide_recall,
    placement_hash,
    placement_wake_on,
)
from collections_legal.domain.referral import Referral, ReferralRules, decide_referral, wake_on

BASE = date(2026, 1, 1)
days = st.integers(min_value=0, max_value=300).map(lambda n: BASE + timedelta(days=n))
TWO = (AgencyTerms("north", Decimal(30), Decimal(20)), AgencyTerms("south", Decimal(70), Decimal("12.5")))


@st.composite
def accounts(draw: st.DrawFn, placed: bool) -> LegalAccount:
    dues = draw(st.lists(st.tuples(days, st.integers(1, 10_000)), max_size=3))
    placement = None
    if placed:
        as_of = draw(days)
        placement = OpenPlacement(
            "pl",
            "north",
            as_of,
            as_of + timedelta(days=draw(st.integers(1, 120))),
            Decimal(20),
            as_of + timedelta(days=draw(st.integers(0, 30))),
        )
    return LegalAccount(
        "A",
        unpaid_dues=tuple(UnpaidDue(f"d{i}", on, amount) for i, (on, amount) in enumerate(dues)),
        flags=frozenset(draw(st.sets(st.sampled_from(["dispute", "bankruptcy", "deceased", "hardship"])))),
        promises=tuple(
            Promise(f"p{i}", 100, on, status)
            for i, (on, status) in enumerate(
                draw(st.lists(st.tuples(days, st.sampled_from(["recorded", "kept", "broken"])), max_size=2))
            )
        ),
        arrangements=tuple(
            Arrangement(f"a{i}", "plan", BASE, 100, 1, status, ended if status == "broken" else None)
            for i, (status, ended) in enumerate(
                draw(st.lists(st.tuples(st.sampled_from(["active", "completed", "broken"]), days), max_size=2))
            )
        ),
        open_case_id=draw(st.sampled_from([None, None, None, "case-1"])),
        placement=placement,
        placed_in_episode=placed or (draw(st.booleans()) and draw(st.booleans())),
        payments=tuple(
            Payment(f"y{i}", amount, on, standing)
            for i, (amount, on, standing) in enumerate(
                draw(st.lists(st.tuples(st.integers(1, 5000), days, st.booleans()), max_size=3))
            )
        ),
    )


rules_st = st.builds(PlacementRules, st.sampled_from([(), TWO]), st.integers(0, 150), st.integers(1, 120))


@settings(max_examples=250, deadline=None)
@given(accounts(placed=False), rules_st, days)
def test_placement_holds_exactly_from_the_wake_date(account: LegalAccount, rules: PlacementRules, on: date) -> None:
    woken = placement_wake_on(account, rules)
    places = decide_placement(account, on, rules) is not None
    assert places == (woken is not None and woken <= on)


@settings(max_examples=250, deadline=None)
@given(accounts(placed=True), rules_st, days)
def test_a_due_recall_is_never_missed(account: LegalAccount, rules: PlacementRules, on: date) -> None:
    assert account.placement is not None
    if on <= account.placement.checked_on:
        return  # a close already looked at (closes only move forward)
    if decide_recall(account, on) is not None:
        woken = placement_wake_on(account, rules)
        assert woken is not None and woken <= on


@settings(max_examples=300, deadline=None)
@given(
    accounts(placed=True),
    st.builds(ReferralRules, st.integers(1, 120), st.integers(0, 4), st.integers(0, 20_000)),
    days,
)
def test_no_referral_while_placed_and_min_past_due_is_exact(
    account: LegalAccount, rules: ReferralRules, on: date
) -> None:
    assert not isinstance(decide_referral(account, on, rules), Referral)
    unplaced = replace(account, placement=None)
    woken = wake_on(unplaced, rules)
    assert isinstance(decide_referral(unplaced, on, rules), Referral) == (woken is not None and woken <= on)


@given(st.text(min_size=1, max_size=30))
def test_the_hash_rule_gives_consecutive_ranges_in_list_order(account_id: str) -> None:
    h = placement_hash(account_id)
    assert 0 <= h < 100
    assert choose_agency(account_id, TWO).agency_id == ("north" if h < 30 else "south")
    thirds = tuple(AgencyTerms(x, Decimal(s), Decimal(0)) for x, s in (("a", "33.3"), ("b", "33.3"), ("c", "33.4")))
    assert choose_agency(account_id, thirds).agency_id == ("a" if h <= 33 else "b" if h <= 66 else "c")
    skipped = (AgencyTerms("none", Decimal(0), Decimal(0)), AgencyTerms("all", Decimal(100), Decimal(0)))
    assert choose_agency(account_id, skipped).agency_id == "all"


@given(st.integers(0, 10**12), st.decimals(min_value=0, max_value=100, places=3))
def test_commission_is_the_floor_of_the_percentage(collected: int, pct: Decimal) -> None:
    got = commission(collected, pct)
    assert got * 100 <= collected * pct < (got + 1) * 100


@settings(max_examples=200, deadline=None)
@given(st.one_of(accounts(placed=True), accounts(placed=False)))
def test_the_snapshot_round_trips_with_placements(account: LegalAccount) -> None:
    assert from_state(to_state(account)) == account
