"""Legal's subscription, derived from its HANDLERS table, is exactly the one it had written out."""

from __future__ import annotations

from collections_legal.adapters.spec import SPEC
from collections_legal.app.handlers import COMMANDS, HANDLERS

EXPECTED = {
    "clock": {"day.closed"},
    "ledger": {"ledger.balance_changed"},
    "delinquency": {"delinquency.bucket_changed", "delinquency.dpd_changed"},
    "accounts": {"account.flag_set", "account.flag_cleared"},
    "payments": {"payment.received", "payment.reversed"},
    "outreach": {
        "outreach.contact_recorded",
        "outreach.promise_recorded",
        "outreach.promise_kept",
        "outreach.promise_broken",
        "outreach.arrangement_made",
        "outreach.arrangement_completed",
        "outreach.arrangement_broken",
        "outreach.arrangement_declined",
    },
}


def test_subscription_derived_from_handlers_is_the_exact_types_per_topic() -> None:
    assert {s.topic: set(s.types) for s in SPEC.subscriptions} == EXPECTED
    assert len(SPEC.subscriptions) == len(EXPECTED)


def test_agent_commands_are_api_only() -> None:
    assert not set(COMMANDS) & set(HANDLERS)
    assert all(s.topic != "legal" for s in SPEC.subscriptions)
