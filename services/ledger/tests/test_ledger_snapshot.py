"""The ledger's snapshot holds exactly the folded account (app/repository.py, issue 14)."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from collections_ledger.app.facts import change_of
from collections_ledger.app.repository import from_state, to_state
from collections_ledger.domain.fold import Change, fold

DAY0 = date(2024, 1, 1)


def _events() -> st.SearchStrategy[list[tuple[str, dict[str, object]]]]:
    due = st.builds(
        lambda n, d, a: (
            "payment.due",
            {
                "due_id": f"d{n}",
                "due_date": (DAY0 + timedelta(days=d)).isoformat(),
                "amount_due_minor": a,
                "statement_balance_minor": a * 3,
            },
        ),
        st.integers(0, 5),
        st.integers(0, 200),
        st.integers(1, 10_000),
    )
    paid = st.builds(
        lambda n, d, a: (
            "payment.received",
            {"payment_id": f"p{n}", "amount_minor": a, "received_on": (DAY0 + timedelta(days=d)).isoformat()},
        ),
        st.integers(0, 5),
        st.integers(0, 200),
        st.integers(1, 10_000),
    )
    reversed_ = st.builds(lambda n: ("payment.reversed", {"payment_id": f"p{n}"}), st.integers(0, 5))
    opened = st.just(("account.opened", {"product": "card", "currency": "EUR", "opened_on": "2023-12-01"}))
    waiver = st.builds(
        lambda n, a: (
            "ledger.waiver_posted",
            {"arrangement_id": f"a{n}", "dues": [{"due_id": "d0", "amount_minor": a}]},
        ),
        st.integers(0, 2),
        st.integers(0, 500),
    )
    return st.lists(st.one_of(due, paid, reversed_, opened, waiver), max_size=25)


@given(_events())
def test_a_snapshot_through_json_is_the_folded_account(events: list[tuple[str, dict[str, object]]]) -> None:
    safe: list[Change] = []
    for type_name, data in events:
        change = change_of(type_name, data)
        assert change is not None
        try:
            fold([*safe, change])
        except ValueError:
            continue  # a reversal of a payment never seen is rejected by the handler, never stored
        safe.append(change)
    account = fold(safe)
    assert from_state(json.loads(json.dumps(to_state(account)))) == account
