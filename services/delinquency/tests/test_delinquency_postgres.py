"""Ledger and delinquency on real PostgreSQL databases (one each): the same handlers, the same events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from collections_delinquency.app.metrics import close_metrics

pytestmark = pytest.mark.postgres


async def test_close_cure_and_api_on_postgres(
    make_rig: Callable[..., Any], create_pg_database: Callable[[str], str]
) -> None:
    rig = await make_rig(urls=(create_pg_database("ledger"), create_pg_database("delinquency")))
    for i in range(6):
        await rig.due(f"acc-{i}", "d1", "2024-01-10", 1000)
    await rig.due("acc-late", "d1", "2024-03-10", 1000)
    assert await rig.close("2024-01-10") == []
    out = await rig.close("2024-01-11")
    assert close_metrics.last_accounts_read == 6
    assert [(e.data["account_id"], e.data["to_bucket"]) for e in out] == [(f"acc-{i}", "1-29") for i in range(6)]
    out = await rig.pay("acc-3", "p1", 400)
    assert [e.type for e in out] == ["ledger.balance_changed"]  # still 1-29, same delinquent_since
    out = await rig.pay("acc-3", "p2", 600)
    assert [(e.type, e.data.get("to_bucket")) for e in out] == [
        ("ledger.balance_changed", None),
        ("delinquency.bucket_changed", "current"),
    ]
    assert await rig.close("2024-01-12") == []
    assert close_metrics.last_accounts_read == 0
    out = await rig.close("2024-02-09")
    assert [e.data["account_id"] for e in out] == ["acc-0", "acc-1", "acc-2", "acc-4", "acc-5"]
    rejected = await rig.close("2024-02-09", event_id="dup")
    assert [e.type for e in rejected] == ["system.event_rejected"]
    async with rig.client() as client:
        body = (await client.get("/accounts/acc-0")).json()
        assert (body["dpd"], body["bucket"], body["delinquent_since"]) == (30, "30-59", "2024-01-10")
        counts = {b["bucket"]: b["accounts"] for b in (await client.get("/buckets")).json()["buckets"]}
        assert (counts["current"], counts["30-59"]) == (2, 5)
        rates = (await client.get("/roll-rates", params={"from": "2024-01-11", "to": "2024-02-09"})).json()
        rows = {r["from_bucket"]: r for r in rates["rows"]}
        # acc-3 was cured after the close of 11 January, as of that date: current on the 11th
        assert rows["1-29"]["accounts"] == 5
        assert {c["bucket"]: c["accounts"] for c in rows["1-29"]["to"] if c["accounts"]} == {"30-59": 5}
        assert {c["bucket"]: c["share"] for c in rows["current"]["to"] if c["accounts"]} == {"current": 1.0}
