"""Property: the wake date is exactly the first close at which the referral rule holds.

A close reads only the accounts whose wake date has come, so a wake date later than the rule
would miss a referral and an earlier one would only cost a read; it must be exact.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collections_legal.domain.account import (
    Arrangement,
    LegalAccount,
    Promise,
    UnpaidDue,
    apply_request,
)
from collections_legal.domain.codec import from_state, to_state
from collections_legal.domain.referral import Referral, ReferralRules, decide_referral, wake_on

BASE = date(2026, 1, 1)
days = st.integers(min_value=0, max_value=200).map(lambda n: BASE + timedelta(days=n))


@st.composite
def accounts(draw: st.DrawFn) -> LegalAccount:
    dues = draw(st.lists(st.tuples(days, st.integers(1, 10_000)), max_size=3))
    account = LegalAccount(
        "A",
        unpaid_dues=tuple(UnpaidDue(f"d{i}", on, amount) for i, (on, amount) in enumerate(dues)),
        flags=frozenset(draw(st.sets(st.sampled_from(["dispute", "bankruptcy", "hardship", "cease_and_desist"])))),
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
        hold_until_cure=draw(st.booleans()) and draw(st.booleans()),
    )
    for on in draw(st.lists(days, max_size=6)):
        account = apply_request(account, on)
    return account


rules_st = st.builds(ReferralRules, st.integers(1, 120), st.integers(0, 4))


@settings(max_examples=400, deadline=None)
@given(accounts(), rules_st, days)
def test_referral_holds_exactly_from_the_wake_date(account: LegalAccount, rules: ReferralRules, on: date) -> None:
    woken = wake_on(account, rules)
    refers = isinstance(decide_referral(account, on, rules), Referral)
    assert refers == (woken is not None and woken <= on)


@settings(max_examples=200, deadline=None)
@given(accounts())
def test_the_snapshot_round_trips(account: LegalAccount) -> None:
    assert from_state(to_state(account)) == account
