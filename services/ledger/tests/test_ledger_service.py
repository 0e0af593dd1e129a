"""The ledger's real handler on the embedded platform (SQLite): what it publishes, what it refuses."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from collections_events.config import LedgerConfig, PlatformConfig
from collections_events.runtime.runtime import Delivery
from collections_events.validation import Event

A = "acc-1"


def due(due_id: str, on: str, amount: int, account: str = A) -> dict[str, Any]:
    return {
        "account_id": account,
        "due_id": due_id,
        "due_date": on,
        "amount_due_minor": amount,
        "statement_balance_minor": amount * 10,
    }


def pay(payment_id: str, amount: int, on: str = "2024-01-05", account: str = A) -> dict[str, Any]:
    return {"account_id": account, "payment_id": payment_id, "amount_minor": amount, "received_on": on}


OPENED = {
    "account_id": A,
    "customer_id": "c-1",
    "product": "loan",
    "currency": "CNY",
    "opened_on": "2023-12-01",
    "timezone": "Asia/Shanghai",
    "locale": "zh-CN",
    "contacts": {"phones": [{"number": "+8613800000000", "kind": "mobile"}], "emails": [], "postal_address": None},
    "consents": {"sms": True, "email": True, "push": True, "autodialed_calls": False},
}


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


async def test_balance_changed_on_each_change_and_nothing_when_nothing_changed(ledger: Any) -> None:
    out = await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    assert types(out) == ["ledger.balance_changed"]
    assert out[0].data == {
        "account_id": A,
        "unpaid_dues": [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 1000}],
        "credit_minor": 0,
        "cause_id": "e1",
    }
    assert await ledger.feed("payment.due", due("d1", "2024-01-10", 1000)) == []  # repeated due_id
    out = await ledger.feed("payment.received", pay("p1", 400))
    assert out[0].data["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 600}]
    assert await ledger.feed("payment.received", pay("p1", 400)) == []  # repeated payment_id
    out = await ledger.feed("payment.received", pay("p2", 1000))
    assert out[0].data["unpaid_dues"] == [] and out[0].data["credit_minor"] == 400
    # the event id is derived from the cause: deterministic
    assert out[0].id != out[0].data["cause_id"]


async def test_tolerance_absorbs_a_small_remainder(make_ledger: Callable[..., Any]) -> None:
    rig = await make_ledger(PlatformConfig(ledger=LedgerConfig(tolerance_minor=5)))
    await rig.feed("payment.due", due("d1", "2024-01-10", 1000))
    out = await rig.feed("payment.received", pay("p1", 995))
    assert out[0].data["unpaid_dues"] == []
    # the next payment fills the 5 left of the due first
    out = await rig.feed("payment.received", pay("p2", 10))
    assert out[0].data["credit_minor"] == 5


async def test_unknown_reversal_is_rejected_with_a_reason_and_changes_nothing(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    out = await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "ghost", "reason": "nsf"})
    assert types(out) == ["system.event_rejected"]
    assert out[0].data["event_id"] == "e2"
    assert out[0].data["reason"] == "payment.reversed: payment_id 'ghost' was never received"
    async with ledger.client() as client:
        body = (await client.get(f"/accounts/{A}")).json()
    assert body["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 1000}]
    assert body["reversed_payments"] == []


async def test_reversal_restores_the_due_and_a_new_receipt_applies_again(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 1000))
    out = await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"})
    assert out[0].data["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 1000}]
    assert await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"}) == []
    out = await ledger.feed("payment.received", pay("p1", 1000))
    assert out[0].data["unpaid_dues"] == []


async def test_dues_and_payments_before_account_opened_are_kept(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 300))
    assert await ledger.feed("account.opened", OPENED) == []  # no money moved
    async with ledger.client() as client:
        body = (await client.get(f"/accounts/{A}")).json()
        events = (await client.get(f"/accounts/{A}/events")).json()
    assert body["currency"] == "CNY" and body["opened_on"] == "2023-12-01"
    assert body["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 700}]
    assert body["payments"] == [{"payment_id": "p1", "amount_minor": 300, "received_on": "2024-01-05"}]
    opened = next(e for e in events if e["type"] == "account.opened")
    assert "contacts" not in opened["data"]  # the ledger keeps no personal data


async def test_api(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 300))
    await ledger.feed("payment.received", pay("p2", 200))
    await ledger.feed("payment.reversed", {"account_id": A, "payment_id": "p2", "reason": "chargeback"})
    async with ledger.client() as client:
        assert (await client.get("/accounts/nobody")).status_code == 404
        assert (await client.get("/accounts/nobody/events")).status_code == 404
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        body = (await client.get(f"/accounts/{A}")).json()
        events = (await client.get(f"/accounts/{A}/events")).json()
        assert (await client.get("/openapi.json")).status_code == 200
    assert body["credit_minor"] == 0
    assert [p["payment_id"] for p in body["payments"]] == ["p1"]
    assert [p["payment_id"] for p in body["reversed_payments"]] == ["p2"]
    assert [e["type"] for e in events] == [
        "payment.due",
        "ledger.balance_changed",
        "payment.received",
        "ledger.balance_changed",
        "payment.received",
        "ledger.balance_changed",
        "payment.reversed",
        "ledger.balance_changed",
    ]
    assert [e["version"] for e in events] == list(range(1, 9))


def completed(kind: str, made_on: str, arrangement_id: str = "arr-1") -> dict[str, Any]:
    return {"arrangement_id": arrangement_id, "account_id": A, "kind": kind, "made_on": made_on, "paid_minor": 500}


async def test_completed_settlement_forgives_dues_up_to_made_on(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.due", due("d2", "2024-02-10", 1000))
    await ledger.feed("payment.due", due("d3", "2024-03-10", 1000))
    await ledger.feed("payment.received", pay("p1", 500))
    out = await ledger.feed("outreach.arrangement_completed", completed("settlement", "2024-02-10"))
    assert types(out) == ["ledger.waiver_posted", "ledger.balance_changed"]
    assert out[0].data == {
        "account_id": A,
        "arrangement_id": "arr-1",
        "amount_minor": 1500,
        "dues": [{"due_id": "d1", "amount_minor": 500}, {"due_id": "d2", "amount_minor": 1000}],
    }
    assert out[1].data["unpaid_dues"] == [{"due_id": "d3", "due_date": "2024-03-10", "unpaid_minor": 1000}]
    # the same completion again (another event id) forgives nothing more
    assert await ledger.feed("outreach.arrangement_completed", completed("settlement", "2024-02-10")) == []
    async with ledger.client() as client:
        body = (await client.get(f"/accounts/{A}")).json()
    assert body["waivers"] == [{"arrangement_id": "arr-1", "amount_minor": 1500}]


async def test_completed_plan_forgives_nothing(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    assert await ledger.feed("outreach.arrangement_completed", completed("plan", "2024-02-10")) == []


async def _final_balance(rig: Any, events: list[Event], batch: int) -> Any:
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        await rig.runtime.process([Delivery(_topic(e), e, position=e.id) for e in chunk])
    async with rig.client() as client:
        return (await client.get(f"/accounts/{A}")).json()


def _topic(event: Event) -> str:
    return "billing" if event.type == "payment.due" else "payments"


async def test_state_does_not_depend_on_batching_or_on_dues_vs_payments_order(make_ledger: Callable[..., Any]) -> None:
    rnd = random.Random(7)
    base = await make_ledger()
    dues_ = [base.event("payment.due", due(f"d{i}", f"2024-0{1 + i}-10", rnd.randint(1, 3000))) for i in range(5)]
    pays = [base.event("payment.received", pay(f"p{i}", rnd.randint(1, 3000))) for i in range(5)]
    reversal = base.event("payment.reversed", {"account_id": A, "payment_id": "p2", "reason": "nsf"})
    reference = await _final_balance(base, [*dues_, *pays, reversal], batch=1)
    for trial in range(4):
        mixed = [*dues_, *pays]
        rnd.shuffle(mixed)
        # the reversal stays after its payment (same topic and key: Kafka keeps that order)
        mixed.insert(mixed.index(pays[2]) + 1 + rnd.randint(0, len(mixed) - mixed.index(pays[2]) - 1), reversal)
        rig = await make_ledger()
        assert await _final_balance(rig, mixed, batch=[1, 3, 7, 500][trial]) == reference
