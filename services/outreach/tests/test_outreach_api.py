"""The agents' API on the real handler and database (SQLite): results, trail, arrangements, treatment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from collections_events.registry import EVENT_TYPES
from collections_outreach.adapters.api import create_api
from collections_outreach.adapters.api_bodies import ARRANGEMENT_EXAMPLES, RESULT_EXAMPLES

from .conftest import Harness

D0 = date(2026, 1, 10)
D1 = D0 + timedelta(days=1)


@pytest.fixture
async def client(outreach: Harness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(outreach.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://outreach") as c:
        yield c


async def test_manual_result_goes_on_the_trail(outreach: Harness, client: httpx.AsyncClient) -> None:
    await outreach.opened("A")
    body = {"attempt_id": None, "channel": "call", "outcome": "answered_rpc", "occurred_at": "2026-01-12T02:00:00Z"}
    response = await client.post("/accounts/A/contact-results", json=body)
    assert response.status_code == 201, response.text
    record = response.json()["record"]
    assert record["kind"] == "result" and record["sequence"] == 1 and record["outcome"] == "answered_rpc"
    trail = (await client.get("/accounts/A/trail")).json()["records"]
    assert trail == [record]
    verdict = (await client.get("/accounts/A/trail/verify")).json()
    assert verdict["ok"] and verdict["records"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "call", "outcome": "maybe", "occurred_at": "2026-01-12T02:00:00Z"}, "data.outcome"),
        ({"channel": "fax", "outcome": "delivered", "occurred_at": "2026-01-12T02:00:00Z"}, "data.channel"),
        ({"channel": "call", "outcome": "delivered", "occurred_at": "2026-01-12 02:00"}, "data.occurred_at"),
        ({"channel": "call", "outcome": "delivered", "occurred_at": None, "note": "x"}, "data.note"),
        (
            {
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T02:00:00Z",
                "promise": {"amount_minor": 0, "promised_on": "2026-01-20"},
            },
            "data.promise.amount_minor",
        ),
    ],
)
async def test_bad_result_is_422_naming_the_field(
    outreach: Harness,
    client: httpx.AsyncClient,
    body: dict,  # type: ignore[type-arg]
    field: str,
) -> None:
    await outreach.opened("A")
    response = await client.post("/accounts/A/contact-results", json=body)
    assert response.status_code == 422
    # FastAPI's shape, as every service answers: the field's path under `body`.
    assert any(".".join(map(str, d["loc"])) == "body." + field.removeprefix("data.") for d in response.json()["detail"])
    assert (await client.get("/accounts/A/trail")).json()["records"] == []


async def test_arrangements_made_declined_invalid_and_listed(outreach: Harness, client: httpx.AsyncClient) -> None:
    await outreach.opened("A")
    plan = {
        "kind": "plan",
        "occurred_at": "2026-01-12T02:00:00Z",
        "installments": [{"due_on": "2026-01-20", "amount_minor": 300}, {"due_on": "2026-02-20", "amount_minor": 300}],
    }
    response = await client.post("/accounts/A/arrangements", json=plan)
    assert response.status_code == 409 and response.json()["reason"] == "not_delinquent"
    await outreach.delinquent("A", D1, D0)
    await outreach.close(D1)
    response = await client.post("/accounts/A/arrangements", json=plan)
    assert response.status_code == 201, response.text
    made = response.json()["arrangement"]
    assert made["made_on"] == "2026-01-12" and made["total_minor"] == 600
    response = await client.post("/accounts/A/arrangements", json=plan)
    assert response.status_code == 409 and response.json()["reason"] == "arrangement_active"
    bad = {**plan, "installments": [{"due_on": "2026-01-20", "amount_minor": -1}]}
    response = await client.post("/accounts/A/arrangements", json=bad)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "installments", 0, "amount_minor"]
    response = await client.post("/accounts/A/arrangements", json={**plan, "account_id": "B"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "account_id"]
    response = await client.post("/accounts/A/arrangements", json={**plan, "kind": "loan"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "kind"]

    await outreach.payment("A", "p1", 300, date(2026, 1, 19))
    await outreach.close_range(date(2026, 1, 12), date(2026, 1, 20))
    listing = (await client.get("/accounts/A/arrangements")).json()["arrangements"]
    assert [i["status"] for i in listing[0]["installments"]] == ["met", "due"]
    await outreach.close_range(date(2026, 1, 21), date(2026, 2, 25))
    listing = (await client.get("/accounts/A/arrangements")).json()["arrangements"]
    assert listing[0]["status"] == "broken" and listing[0]["broken_as_of"] == "2026-02-25"
    assert [i["status"] for i in listing[0]["installments"]] == ["met", "missed"]


async def test_in_treatment_and_account_view(outreach: Harness, client: httpx.AsyncClient) -> None:
    await outreach.opened("A")
    await outreach.opened("B")
    await outreach.delinquent("A", D1, D0)
    await outreach.close(D1)
    await outreach.feed("account.flag_set", {"account_id": "A", "flag": "hardship", "reason": "job loss"})
    listing = (await client.get("/accounts/in-treatment")).json()
    assert listing["as_of"] == "2026-01-11" and listing["total"] == 1
    # A page past the end still counts every account in treatment.
    beyond = (await client.get("/accounts/in-treatment", params={"offset": 1})).json()
    assert beyond["accounts"] == [] and beyond["total"] == 1 and beyond["offset"] == 1
    assert listing["accounts"] == [
        {
            "account_id": "A",
            "delinquent_since": "2026-01-10",
            "dpd": 1,
            "as_of": "2026-01-11",
            "next_step": {"step": "email-reminder", "channel": "email", "at_close_of": "2026-01-15"},
        }
    ]
    view = (await client.get("/accounts/A")).json()
    assert view["flags"] == ["hardship"] and view["consents"]["autodialed_calls"] is True
    assert view["dpd"] == 1 and view["timezone"] == "Asia/Shanghai"
    assert (await client.get("/accounts/nobody")).status_code == 404
    await outreach.delinquent("A", D1, None)
    cured = (await client.get("/accounts/in-treatment")).json()
    assert cured["accounts"] == [] and cured["total"] == 0


async def test_destinations_never_reach_the_logs(outreach: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.close_range(D1, D1 + timedelta(days=12))
    await outreach.result("A", "answered_rpc", "2026-01-12T02:00:00Z")
    captured = capsys.readouterr()
    for secret in ("+8613800000001", "+8610000000002", "wei@example.com", "1 Road, Shanghai"):
        assert secret not in captured.out and secret not in captured.err


@pytest.mark.parametrize(
    ("type_name", "examples"),
    [("contact.result_reported", RESULT_EXAMPLES), ("outreach.arrangement_requested", ARRANGEMENT_EXAMPLES)],
)
def test_the_docs_examples_are_valid_bodies(type_name: str, examples: dict) -> None:  # type: ignore[type-arg]
    for example in examples.values():
        data = {"account_id": "A", "occurred_at": "2026-01-12T15:04:00Z", **example["value"]}
        EVENT_TYPES[type_name].model.model_validate(data)


async def test_charged_off_accounts_leave_the_treatment_list(outreach: Harness, client: httpx.AsyncClient) -> None:
    """Issue 15: a charged-off account is no longer in treatment; a new episode after a cure lists it again."""
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    assert (await client.get("/accounts/in-treatment")).json()["total"] == 1
    charged = {"account_id": "A", "as_of": "2026-07-09", "dpd": 180, "past_due_minor": 1000}
    await outreach.feed("delinquency.charged_off", charged)
    assert (await client.get("/accounts/in-treatment")).json()["total"] == 0
    await outreach.delinquent("A", date(2026, 8, 1), None)
    await outreach.delinquent("A", date(2026, 9, 2), date(2026, 9, 1))
    assert (await client.get("/accounts/in-treatment")).json()["total"] == 1
