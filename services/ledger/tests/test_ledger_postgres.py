"""The ledger's handler and API on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

A = "acc-pg"


async def test_ledger_on_postgres(make_ledger: Callable[..., Any], pg_url: str) -> None:
    rig = await make_ledger(url=pg_url)
    due = {"account_id": A, "due_id": "d1", "due_date": "2024-01-10", "amount_due_minor": 1000}
    out = await rig.feed("payment.due", {**due, "statement_balance_minor": 5000})
    assert [e.type for e in out] == ["ledger.balance_changed"]
    pay = {"account_id": A, "payment_id": "p1", "amount_minor": 1500, "received_on": "2024-01-09"}
    out = await rig.feed("payment.received", pay)
    assert out[0].data["credit_minor"] == 500
    assert await rig.feed("payment.received", pay) == []
    out = await rig.feed("payment.reversed", {"account_id": A, "payment_id": "zzz", "reason": "error"})
    assert [e.type for e in out] == ["system.event_rejected"]
    out = await rig.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"})
    assert out[0].data["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 1000}]
    async with rig.client() as client:
        body = (await client.get(f"/accounts/{A}")).json()
        assert body["reversed_payments"][0]["payment_id"] == "p1"
        kinds = [e["type"] for e in (await client.get(f"/accounts/{A}/events")).json()]
        assert kinds.count("system.event_rejected") == 1 and len(kinds) == 7  # what it published is kept too
        assert (await client.get("/ready")).json() == {"status": "ready"}
