"""Ledger and delinquency together on the embedded platform: the exact events they publish."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from collections_delinquency.app.metrics import close_metrics
from collections_events.config import Bucket, DelinquencyConfig, PlatformConfig
from collections_events.ids import derive_id

A = "acc-A"


def of(events: list[Any], type_name: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == type_name]


async def test_exact_events_of_a_late_due_and_its_cure(rig: Any) -> None:
    out = await rig.due(A, "d1", "2024-01-10", 1000)
    assert [e.type for e in out] == ["ledger.balance_changed"]  # no close yet: no business date
    assert await rig.close("2024-01-10") == []  # paid on its due date is never late
    out = await rig.close("2024-01-11")
    assert [e.to_structured() for e in out] == [
        {
            "specversion": "1.0",
            "id": derive_id("close-2024-01-11", f"bucket:{A}"),
            "source": "collections/delinquency",
            "type": "delinquency.bucket_changed",
            "subject": A,
            "time": "2024-01-01T12:00:00Z",
            "datacontenttype": "application/json",
            "data": {
                "account_id": A,
                "as_of": "2024-01-11",
                "dpd": 1,
                "delinquent_since": "2024-01-10",
                "from_bucket": "current",
                "to_bucket": "1-29",
                "past_due_minor": 1000,
            },
        }
    ]
    out = await rig.pay(A, "p1", 1000)
    assert [e.type for e in out] == ["ledger.balance_changed", "delinquency.bucket_changed"]
    assert out[1].id == derive_id(out[0].id, f"bucket:{A}")
    assert out[1].data == {
        "account_id": A,
        "as_of": "2024-01-11",  # the last closed date
        "dpd": 0,
        "delinquent_since": None,
        "from_bucket": "1-29",
        "to_bucket": "current",
        "past_due_minor": 0,
    }
    assert await rig.close("2024-01-12") == []


async def test_dpd_changed_on_a_partial_payment_that_clears_the_oldest_due(rig: Any) -> None:
    await rig.due(A, "d1", "2024-01-10", 500)
    await rig.due(A, "d2", "2024-01-20", 500)
    await rig.close("2024-01-25")
    out = await rig.pay(A, "p1", 600)
    assert [e.type for e in out] == ["ledger.balance_changed", "delinquency.dpd_changed"]
    assert out[1].data == {
        "account_id": A,
        "as_of": "2024-01-25",
        "dpd": 5,
        "delinquent_since": "2024-01-20",
        "past_due_minor": 400,
    }


async def test_a_reversal_after_a_close_publishes_at_once_as_of_that_close(rig: Any) -> None:
    await rig.due(A, "d1", "2024-01-10", 500)
    await rig.pay(A, "p1", 500)
    assert await rig.close("2024-02-15") == []
    out = await rig.feed("payment.reversed", {"account_id": A, "payment_id": "p1", "reason": "nsf"})
    assert of(out, "delinquency.bucket_changed") == [
        {
            "account_id": A,
            "as_of": "2024-02-15",
            "dpd": 36,
            "delinquent_since": "2024-01-10",
            "from_bucket": "current",
            "to_bucket": "30-59",
            "past_due_minor": 500,
        }
    ]


async def _walk(rig: Any, days: int) -> list[tuple[str, str, int]]:
    """Close every day from the due date on; returns (as_of, type, dpd) of what delinquency published."""
    await rig.due(A, "d1", "2024-01-10", 1000)
    seen = []
    for n in range(days + 1):
        on = (date(2024, 1, 10) + timedelta(days=n)).isoformat()
        for e in await rig.close(on):
            seen.append((e.data["as_of"], e.type.removeprefix("delinquency."), e.data["dpd"]))
            assert e.data["as_of"] == on
    return seen


async def test_daily_closes_cross_every_us_edge_once_and_charge_off_once(rig: Any) -> None:
    seen = await _walk(rig, 200)
    assert [(t, dpd) for _, t, dpd in seen] == [
        ("bucket_changed", 1),
        ("bucket_changed", 30),
        ("bucket_changed", 60),
        ("bucket_changed", 90),
        ("bucket_changed", 120),
        ("bucket_changed", 150),
        ("bucket_changed", 180),
        ("charged_off", 180),
    ]


async def test_daily_closes_cross_every_cn_edge(make_rig: Callable[..., Any]) -> None:
    rig = await make_rig(PlatformConfig(delinquency=DelinquencyConfig(buckets="cn", charge_off_dpd=181)))
    seen = await _walk(rig, 190)
    assert [dpd for _, t, dpd in seen if t == "bucket_changed"] == [1, 31, 61, 91, 121, 151, 181]
    assert [dpd for _, t, dpd in seen if t == "charged_off"] == [181]


async def test_charge_off_again_in_a_new_episode(make_rig: Callable[..., Any]) -> None:
    rig = await make_rig(PlatformConfig(delinquency=DelinquencyConfig(charge_off_dpd=5)))
    await rig.due(A, "d1", "2024-01-10", 1000)
    out = await rig.close("2024-01-15")
    assert [e.type for e in out] == ["delinquency.bucket_changed", "delinquency.charged_off"]
    assert of(out, "delinquency.charged_off") == [
        {"account_id": A, "as_of": "2024-01-15", "dpd": 5, "past_due_minor": 1000}
    ]
    assert await rig.close("2024-01-20") == []
    await rig.pay(A, "p1", 1000)  # cured: the episode ends
    await rig.due(A, "d2", "2024-02-10", 300)
    assert [e.type for e in await rig.close("2024-02-14")] == ["delinquency.bucket_changed"]
    assert [e.type for e in await rig.close("2024-02-15")] == ["delinquency.charged_off"]


async def test_custom_bucket_list(make_rig: Callable[..., Any]) -> None:
    buckets = [Bucket(name="ok", from_dpd=0), Bucket(name="late", from_dpd=10), Bucket(name="bad", from_dpd=40)]
    rig = await make_rig(PlatformConfig(delinquency=DelinquencyConfig(buckets=buckets)))
    await rig.due(A, "d1", "2024-01-10", 1000)
    out = await rig.close("2024-01-11")
    assert [e.type for e in out] == ["delinquency.dpd_changed"]  # past due, still in the first bucket
    assert out[0].data["delinquent_since"] == "2024-01-10"
    out = await rig.close("2024-01-20")
    assert [(e.data["from_bucket"], e.data["to_bucket"]) for e in out] == [("ok", "late")]
    out = await rig.close("2024-03-01")
    assert [(e.data["from_bucket"], e.data["to_bucket"], e.data["dpd"]) for e in out] == [("late", "bad", 51)]


async def test_duplicate_and_backwards_closes_are_rejected_once(rig: Any) -> None:
    await rig.close("2024-01-11")
    out = await rig.close("2024-01-11", event_id="again")
    assert [(e.type, e.data) for e in out] == [
        (
            "system.event_rejected",
            {
                "event_id": "again",
                "type": "day.closed",
                "line": None,
                "reason": "day.closed: business date 2024-01-11 is not after the last closed date 2024-01-11",
            },
        )
    ]
    out = await rig.close("2024-01-05", event_id="back")
    assert [e.data["reason"] for e in out] == [
        "day.closed: business date 2024-01-05 is not after the last closed date 2024-01-11"
    ]
    assert await rig.close("2024-01-05", event_id="back") == []  # the same event again: already answered
    assert await rig.close("2024-01-11") == []  # the very same close redelivered: the inbox skips it


async def test_a_close_reads_only_the_accounts_that_can_change(rig: Any) -> None:
    for i in range(10):
        await rig.due(f"early-{i}", "d1", "2024-01-10", 100)
    for i in range(25):
        await rig.due(f"later-{i}", "d1", "2024-01-20", 100)
    for i in range(5):
        await rig.due(f"paid-{i}", "d1", "2024-01-05", 100)
        await rig.pay(f"paid-{i}", "p", 100)
    await rig.close("2024-01-11")
    assert close_metrics.last_accounts_read == 10
    assert close_metrics.last_published == 10
    for day in ("2024-01-12", "2024-01-15", "2024-01-20"):
        await rig.close(day)
        assert close_metrics.last_accounts_read == 0  # the delinquent ten wake at dpd 30, the rest on the 21st
    await rig.close("2024-01-21")
    assert close_metrics.last_accounts_read == 25
    await rig.close("2024-02-09")  # early-*: dpd 30
    assert (close_metrics.last_accounts_read, close_metrics.last_published) == (10, 10)


async def test_api_account_buckets_roll_rates(rig: Any) -> None:
    await rig.due(A, "d1", "2024-01-10", 1000)
    await rig.due("acc-B", "d1", "2024-01-10", 1000)
    await rig.due("acc-C", "d1", "2024-03-10", 1000)
    async with rig.client() as client:
        before = (await client.get(f"/accounts/{A}")).json()
        assert before == {
            "account_id": A,
            "as_of": None,
            "dpd": 0,
            "bucket": "current",
            "delinquent_since": None,
            "past_due_minor": 0,
            "charged_off": False,
        }
        await rig.close("2024-01-11")
        await rig.close("2024-02-09")
        await rig.pay("acc-B", "p", 1000)
        body = (await client.get(f"/accounts/{A}")).json()
        assert body == {
            "account_id": A,
            "as_of": "2024-02-09",
            "dpd": 30,
            "bucket": "30-59",
            "delinquent_since": "2024-01-10",
            "past_due_minor": 1000,
            "charged_off": False,
        }
        assert (await client.get("/accounts/nobody")).status_code == 404
        counts = (await client.get("/buckets")).json()
        assert counts["as_of"] == "2024-02-09"
        assert {b["bucket"]: b["accounts"] for b in counts["buckets"]} == {
            "current": 2,
            "1-29": 0,
            "30-59": 1,
            "60-89": 0,
            "90-119": 0,
            "120-149": 0,
            "150-179": 0,
            "180+": 0,
        }
        rates = (await client.get("/roll-rates", params={"from": "2024-01-11", "to": "2024-02-09"})).json()
        rows = {r["from_bucket"]: r for r in rates["rows"]}
        assert rows["1-29"]["accounts"] == 2
        one_to = {c["bucket"]: c["share"] for c in rows["1-29"]["to"]}
        assert one_to["30-59"] == 0.5 and one_to["current"] == 0.5
        assert rows["current"]["accounts"] == 1
        assert {c["bucket"]: c["share"] for c in rows["current"]["to"]}["current"] == 1.0
        # the day before any move: everyone current
        early = (await client.get("/roll-rates", params={"from": "2024-01-10", "to": "2024-01-11"})).json()
        early_rows = {r["from_bucket"]: r["accounts"] for r in early["rows"]}
        assert early_rows["current"] == 3
        for bad in ({"from": "2024-02-30", "to": "2024-03-01"}, {"from": "2024-03-01", "to": "2024-02-01"}, {}):
            assert (await client.get("/roll-rates", params=bad)).status_code == 422
