"""Placement and recall at day closes (behaviour.md, Agencies), legal alone on the embedded platform."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from collections_legal.domain.placement import placement_hash

D0 = date(2026, 1, 10)  # the harness's default due date

AGENCIES = {
    "legal": {
        "placement": {
            "agencies": [
                {"id": "north", "share_pct": 30, "commission_pct": 20},
                {"id": "south", "share_pct": 70, "commission_pct": 12.5},
            ],
            "from_dpd": 120,
            "days": 90,
        }
    }
}


def day(n: int) -> date:
    """The business date n days after the first due (dpd n while that due is unpaid)."""
    return D0 + timedelta(days=n)


def only(events: list[Any], type_name: str) -> dict[str, Any]:
    found = [e for e in events if e.type == type_name]
    assert len(found) == 1, [e.type for e in events]
    data: dict[str, Any] = found[0].data
    return data


def payment(account: str, pid: str, amount: int, on: date) -> dict[str, Any]:
    return {"account_id": account, "payment_id": pid, "amount_minor": amount, "received_on": on.isoformat()}


async def test_an_account_too_few_contacts_for_court_is_placed_at_from_dpd(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal(AGENCIES)
    await legal.delinquent("A1", attempts=1)
    await legal.close(day(90))
    assert await legal.close(day(119)) == []
    placed = only(await legal.close(day(120)), "legal.account_placed")
    agency = "north" if placement_hash("A1") < 30 else "south"
    assert placed == {
        "placement_id": placed["placement_id"],
        "account_id": "A1",
        "agency_id": agency,
        "as_of": day(120).isoformat(),
        "dpd": 120,
        "past_due_minor": 5000,
        "recall_on": day(210).isoformat(),
    }


async def test_referral_first_a_case_at_d_wins_and_an_open_case_blocks_placement(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal({"legal": {**AGENCIES["legal"], "referral_dpd": 120}})
    await legal.delinquent("A2", attempts=3)
    events = await legal.close(day(120))
    assert [e.type for e in events if e.type.startswith("legal.")] == ["legal.case_opened"]
    assert [e.type for e in await legal.close(day(121))] == []


async def test_min_past_due_minor_sends_a_small_balance_to_an_agency_not_to_court(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal({"legal": {**AGENCIES["legal"], "min_past_due_minor": 10_000}})
    await legal.delinquent("SMALL", attempts=3, amount=9_999)
    await legal.delinquent("BIG", attempts=3, amount=10_000)
    opened = [e.data["account_id"] for e in await legal.close(day(90)) if e.type == "legal.case_opened"]
    assert opened == ["BIG"]
    placed = [e.data["account_id"] for e in await legal.close(day(120)) if e.type == "legal.account_placed"]
    assert placed == ["SMALL"]


async def test_min_past_due_minor_applies_with_placement_off(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal({"legal": {"min_past_due_minor": 6_000}})
    await legal.delinquent("A3", attempts=3, amount=5_000)
    assert await legal.close(day(90)) == []
    await legal.balance("A3", (D0, 5_000), (day(30), 1_000))
    # 6,000 past due only once the second due is past due: at the close of day 31.
    opened = only(await legal.close(day(95)), "legal.case_opened")
    assert opened["past_due_minor"] == 6_000


async def test_no_placement_without_agencies_nor_with_a_blocking_fact(make_legal) -> None:  # type: ignore[no-untyped-def]
    off = await make_legal({}, name="off")
    await off.delinquent("A4", attempts=0)
    assert await off.close(day(150)) == []
    on = await make_legal(AGENCIES, name="on")
    for account in ("F1", "F2", "F3"):
        await on.delinquent(account, attempts=0)
    await on.flag("F1", "dispute")
    await on.flag("F2", "bankruptcy")
    await on.send(
        "outreach.promise_recorded",
        {"promise_id": "p1", "account_id": "F3", "amount_minor": 100, "promised_on": day(125).isoformat()},
    )
    assert await on.close(day(120)) == []
    placed = [e.data["account_id"] for e in await on.close(day(126)) if e.type == "legal.account_placed"]
    assert placed == ["F3"]


async def test_expiry_recall_counts_payments_after_as_of_less_reversals_and_floors_commission(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal(AGENCIES)
    await legal.delinquent("A5", attempts=0, amount=100_000)
    await legal.send("payment.received", payment("A5", "before", 1_000, day(120)))
    placed = only(await legal.close(day(120)), "legal.account_placed")
    commission_pct = 20 if placed["agency_id"] == "north" else 12.5
    await legal.send("payment.received", payment("A5", "p1", 333, day(121)))
    await legal.send("payment.received", payment("A5", "p2", 5_000, day(150)))
    await legal.send("payment.reversed", {"account_id": "A5", "payment_id": "p2", "reason": "nsf"})
    await legal.send("payment.received", payment("A5", "p3", 1_001, day(209)))
    await legal.send("payment.received", payment("A5", "late", 7_000, day(211)))
    assert await legal.close(day(209)) == []
    recalled = only(await legal.close(day(210)), "legal.placement_recalled")
    collected = 333 + 1_001
    assert recalled == {
        "placement_id": placed["placement_id"],
        "account_id": "A5",
        "agency_id": placed["agency_id"],
        "as_of": day(210).isoformat(),
        "reason": "expired",
        "collected_minor": collected,
        "commission_minor": int(collected * commission_pct // 100),
    }
    # No second placement in the episode; the referral rule applies again from the next close.
    assert await legal.close(day(211)) == []


async def test_recall_reasons_in_order_flags_before_cure(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal(AGENCIES)
    for account in ("R1", "R2", "R3"):
        await legal.delinquent(account, attempts=0)
    await legal.close(day(120))
    await legal.flag("R1", "dispute")
    await legal.flag("R1", "deceased")
    await legal.balance("R2")
    await legal.flag("R3", "dispute")
    await legal.balance("R3")
    recalls = {e.data["account_id"]: e.data["reason"] for e in await legal.close(day(130))}
    assert recalls == {"R1": "deceased", "R2": "cured", "R3": "dispute"}


async def test_a_cured_account_is_placed_again_in_a_new_episode(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal(AGENCIES)
    await legal.delinquent("A6", attempts=0)
    await legal.close(day(120))
    await legal.balance("A6")
    assert only(await legal.close(day(121)), "legal.placement_recalled")["reason"] == "cured"
    await legal.balance("A6", (day(200), 2_000))
    placed = only(await legal.close(day(320)), "legal.account_placed")
    assert placed["dpd"] == 120


async def test_apis_list_filter_page_and_sum_per_agency(make_legal) -> None:  # type: ignore[no-untyped-def]
    legal = await make_legal(AGENCIES)
    accounts = [f"P{i}" for i in range(6)]
    for account in accounts:
        await legal.delinquent(account, attempts=0)
    await legal.close(day(120))
    await legal.send("payment.received", payment("P0", "x", 1_000, day(125)))
    await legal.balance("P0")
    await legal.close(day(130))
    async with legal.client() as client:
        page = (await client.get("/placements", params={"limit": 4})).json()
        assert page["total"] == 6 and len(page["items"]) == 4 and page["next_offset"] == 4
        rest = (await client.get("/placements", params={"limit": 4, "offset": 4})).json()
        assert len(rest["items"]) == 2 and rest["next_offset"] is None
        recalled = (await client.get("/placements", params={"status": "recalled"})).json()["items"]
        assert [p["account_id"] for p in recalled] == ["P0"]
        assert recalled[0]["reason"] == "cured" and recalled[0]["collected_minor"] == 1_000
        one = (await client.get(f"/placements/{recalled[0]['placement_id']}")).json()
        assert one["account_id"] == "P0"
        assert (await client.get("/placements/nope")).status_code == 404
        assert (await client.get("/placements", params={"status": "bogus"})).status_code == 422
        by_agency = {a["agency_id"]: a for a in (await client.get("/agencies")).json()["agencies"]}
        assert set(by_agency) == {"north", "south"}
        assert sum(a["open"] for a in by_agency.values()) == 5
        owner = recalled[0]["agency_id"]
        assert by_agency[owner]["recalled_by_reason"] == {"cured": 1}
        assert by_agency[owner]["collected_minor"] == 1_000
        south = (await client.get("/placements", params={"agency_id": "south"})).json()["items"]
        assert all(p["agency_id"] == "south" for p in south)
        schema = (await client.get("/openapi.json")).json()
        assert {"/placements", "/placements/{placement_id}", "/agencies"} <= set(schema["paths"])
