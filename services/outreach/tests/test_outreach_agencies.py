"""Agencies in outreach (behaviour.md, Agencies): the `placed` hold, agencies' results on the trail,
conduct breaches, bad input, and GET /conduct-breaches. The real handler on the embedded platform."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from collections_events.audit_chain import verify_chain
from collections_events.validation import Rejection, read_structured
from collections_outreach.adapters.api import create_api
from collections_outreach.app.trail_store import read_trail

from .conftest import Harness, make_harness, of_type

AGENCIES = {
    "legal": {
        "placement": {
            "agencies": [
                {"id": "north", "share_pct": 50, "commission_pct": 20},
                {"id": "south", "share_pct": 50, "commission_pct": 10},
            ]
        }
    }
}
DAILY_SMS = {
    "outreach": {"strategy": [{"id": "daily", "channel": "sms", "template": "t", "from_dpd": 1, "every_days": 1}]}
}
SINCE = date(2026, 3, 1)


def day(n: int) -> date:
    return SINCE + timedelta(days=n)


@pytest.fixture
async def make(sqlite_url: str, config_with: Any):  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    async def build(raw: dict[str, Any]) -> Harness:
        harness = await make_harness(sqlite_url, config_with(raw))
        made.append(harness)
        return harness

    yield build
    for harness in made:
        await harness.runtime.db.close()


async def placed(h: Harness, account: str, as_of: date, agency: str = "north", pid: str = "pl-1") -> None:
    await h.feed(
        "legal.account_placed",
        {
            "placement_id": pid,
            "account_id": account,
            "agency_id": agency,
            "as_of": as_of.isoformat(),
            "dpd": 120,
            "past_due_minor": 5000,
            "recall_on": (as_of + timedelta(days=90)).isoformat(),
        },
    )


async def recalled(h: Harness, account: str, as_of: date, agency: str = "north", pid: str = "pl-1") -> None:
    await h.feed(
        "legal.placement_recalled",
        {
            "placement_id": pid,
            "account_id": account,
            "agency_id": agency,
            "as_of": as_of.isoformat(),
            "reason": "expired",
            "collected_minor": 0,
            "commission_minor": 0,
        },
    )


def reasons(events: list[Any]) -> list[str | None]:
    out: list[str | None] = []
    for e in events:
        if e.type == "outreach.contact_suppressed":
            out.append(e.data["reason"])
        elif e.type == "outreach.contact_requested":
            out.append(None)
    return out


async def test_placed_holds_from_the_evaluation_after_as_of_to_the_recalls(make) -> None:  # type: ignore[no-untyped-def]
    h = await make({**AGENCIES, **DAILY_SMS})
    await h.opened("A")
    await h.delinquent("A", day(1), SINCE)
    assert reasons(await h.close(day(1))) == [None]
    await placed(h, "A", day(2))
    assert reasons(await h.close(day(2))) == [None]  # the placing close itself is not held
    assert reasons(await h.close(day(3))) == ["placed"]
    await recalled(h, "A", day(5))
    assert reasons(await h.close(day(4))) == ["placed"]
    assert reasons(await h.close(day(5))) == ["placed"]  # the recall's own close is still held
    assert reasons(await h.close(day(6))) == [None]


async def test_placed_comes_after_legal_hold_and_before_cease_and_desist(make) -> None:  # type: ignore[no-untyped-def]
    h = await make({**AGENCIES, **DAILY_SMS})
    for account in ("CASE", "CD"):
        await h.opened(account)
        await h.delinquent(account, day(1), SINCE)
        await placed(h, account, day(1), pid=f"pl-{account}")
    await h.feed(
        "legal.case_opened",
        {
            "case_id": "c1",
            "account_id": "CASE",
            "as_of": day(1).isoformat(),
            "dpd": 1,
            "past_due_minor": 1,
            "contact_attempts": 3,
        },
    )
    await h.feed("account.flag_set", {"account_id": "CD", "flag": "cease_and_desist", "reason": "letter"})
    by_account = {e.data["account_id"]: e.data["reason"] for e in await h.close(day(2))}
    assert by_account == {"CASE": "legal_hold", "CD": "placed"}


async def test_an_agency_result_is_on_the_chain_with_agency_id_and_the_lenders_records_are_not(make) -> None:  # type: ignore[no-untyped-def]
    h = await make(AGENCIES)
    await h.opened("A")
    await h.result("A", "no_answer", "2026-03-02T02:00:00Z")
    await placed(h, "A", day(0))
    events = await h.result("A", "answered_rpc", "2026-03-02T03:00:00Z", agency_id="north")
    assert of_type(events, "outreach.conduct_breach") == []
    async with h.runtime.db.sessions() as session:
        trail = await read_trail(session, "A")
    assert "agency_id" not in trail[0]
    assert trail[1]["agency_id"] == "north" and trail[1]["attempt_id"] is None
    assert verify_chain(trail).ok
    recorded = of_type(events, "outreach.contact_recorded")
    assert recorded == [trail[1]]


async def test_breaches_one_per_rule_in_the_specs_order(make) -> None:  # type: ignore[no-untyped-def]
    h = await make({**AGENCIES, "outreach": {"call_cap": {"calls": 3, "days": 7}}})
    await h.opened("A")  # Asia/Shanghai, UTC+8
    await placed(h, "A", day(0))
    await h.result("A", "answered_rpc", "2026-03-02T01:00:00Z")  # the lender's own rpc, 09:00 local
    await h.result("A", "busy", "2026-03-01T17:00:00Z")  # 01:00 local on 2 March, the lender's
    await h.result("A", "no_answer", "2026-03-02T02:00:00Z", agency_id="north")
    await h.feed("account.flag_set", {"account_id": "A", "flag": "dispute", "reason": "x"})
    await h.feed("account.flag_set", {"account_id": "A", "flag": "deceased", "reason": "x"})
    # 21:30 local, the fourth call result of the day, in the rpc's cooldown.
    events = await h.result("A", "no_answer", "2026-03-02T13:30:00Z", agency_id="north")
    breaches = of_type(events, "outreach.conduct_breach")
    record_id = of_type(events, "outreach.contact_recorded")[0]["record_id"]
    assert [b["rule"] for b in breaches] == ["deceased", "dispute", "outside_window", "rpc_cooldown", "frequency_cap"]
    assert {(b["account_id"], b["agency_id"], b["record_id"]) for b in breaches} == {("A", "north", record_id)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(h.runtime)), base_url="http://o") as c:
        page = (await c.get("/conduct-breaches", params={"agency_id": "north"})).json()
        # The 10:00 call before was in the cooldown too: the page lists it first (by local time).
        assert [i["rule"] for i in page["items"]] == ["rpc_cooldown"] + [b["rule"] for b in breaches]
        assert page["by_rule"] == {
            "deceased": 1,
            "dispute": 1,
            "outside_window": 1,
            "rpc_cooldown": 2,
            "frequency_cap": 1,
        }
        assert page["total"] == 6
        only = (await c.get("/conduct-breaches", params={"rule": "frequency_cap"})).json()
        assert [i["record_id"] for i in only["items"]] == [record_id]
        assert (await c.get("/conduct-breaches", params={"from": "2026-03-03"})).json()["total"] == 0
        assert (await c.get("/conduct-breaches", params={"to": "2026-03-02", "agency_id": "south"})).json()[
            "total"
        ] == 0
        assert (await c.get("/conduct-breaches", params={"rule": "rude"})).status_code == 422
        assert "/conduct-breaches" in (await c.get("/openapi.json")).json()["paths"]


async def test_a_letter_is_never_outside_the_window(make) -> None:  # type: ignore[no-untyped-def]
    h = await make(AGENCIES)
    await h.opened("A")
    events = await h.result("A", "delivered", "2026-03-02T15:00:00Z", agency_id="south", channel="letter")
    assert of_type(events, "outreach.conduct_breach") == []
    events = await h.result("A", "delivered", "2026-03-02T15:00:00Z", agency_id="south", channel="sms")
    assert [b["rule"] for b in of_type(events, "outreach.conduct_breach")] == ["outside_window"]


async def test_an_unconfigured_agency_is_rejected_naming_the_field_and_changes_nothing(make) -> None:  # type: ignore[no-untyped-def]
    h = await make(AGENCIES)
    await h.opened("A")
    events = await h.result("A", "no_answer", "2026-03-02T13:30:00Z", agency_id="rogue")
    assert [e.type for e in events] == ["system.event_rejected"]
    assert events[0].data["reason"].startswith("agency_id: 'rogue' is not a configured agency")
    async with h.runtime.db.sessions() as session:
        assert await read_trail(session, "A") == []


def test_an_agency_result_with_an_attempt_id_is_invalid() -> None:
    event = {
        "specversion": "1.0",
        "id": "e1",
        "source": "agency",
        "type": "contact.result_reported",
        "subject": "A",
        "time": "2026-03-02T03:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "account_id": "A",
            "attempt_id": "att-1",
            "agency_id": "north",
            "channel": "call",
            "outcome": "no_answer",
            "occurred_at": "2026-03-02T03:00:00Z",
        },
    }
    rejected = read_structured(event)
    assert isinstance(rejected, Rejection)
    assert "attempt_id: must be null when agency_id is set" in rejected.reason


async def test_with_no_agencies_configured_agency_results_are_checked_all_the_same(make) -> None:  # type: ignore[no-untyped-def]
    h = await make({})
    await h.opened("A")
    events = await h.result("A", "no_answer", "2026-03-01T23:00:00Z", agency_id="anyone")  # 07:00 local
    assert [b["rule"] for b in of_type(events, "outreach.conduct_breach")] == ["outside_window"]


async def test_a_result_from_an_agency_that_does_not_hold_the_account_is_recorded_and_checked(make) -> None:  # type: ignore[no-untyped-def]
    h = await make(AGENCIES)
    await h.opened("A")
    await placed(h, "A", day(0), agency="north")
    events = await h.result("A", "no_answer", "2026-03-02T13:30:00Z", agency_id="south")
    assert [e.type for e in events] == ["outreach.contact_recorded", "outreach.conduct_breach"]
    assert events[0].data["agency_id"] == "south"
