"""Issue 15's ledger clarifications of behaviour.md (Ledger; Arrangements): a known payment_id with
another amount, a reversal of a reversed payment, a re-presented payment, a settlement with nothing
to forgive."""

from __future__ import annotations

from typing import Any

from .test_ledger_service import A, due, pay, types


async def test_known_payment_id_with_another_amount_is_rejected_naming_both(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 400))
    out = await ledger.feed("payment.received", pay("p1", 700))
    assert types(out) == ["system.event_rejected"]
    reason = out[0].data["reason"]
    assert "amount_minor" in reason and "700" in reason and "400" in reason and "p1" in reason
    assert await ledger.feed("payment.received", pay("p1", 400)) == []  # the same payment twice: nothing
    async with ledger.client() as client:
        body = (await client.get(f"/accounts/{A}")).json()
    assert body["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 600}]


async def test_re_presented_payment_after_reversal_applies_with_its_new_amount(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 400))
    await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"})
    assert await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"}) == []
    out = await ledger.feed("payment.received", pay("p1", 900))
    assert out[0].data["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 100}]


async def test_settlement_with_nothing_to_forgive_posts_a_zero_waiver_and_no_balance_change(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 1000))
    done = {"arrangement_id": "arr-1", "account_id": A, "kind": "settlement", "made_on": "2024-02-10"}
    out = await ledger.feed("outreach.arrangement_completed", {**done, "paid_minor": 1000})
    assert types(out) == ["ledger.waiver_posted"]
    assert out[0].data["amount_minor"] == 0 and out[0].data["dues"] == []
    assert await ledger.feed("outreach.arrangement_completed", {**done, "paid_minor": 1000}) == []
