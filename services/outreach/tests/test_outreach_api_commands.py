"""Issue 15 on outreach's agent API: one 404 rule, typed bodies refusing unknown fields, and a
contact result's `occurred_at` defaulting to the command's arrival instant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from collections_events.envelope import parse_instant
from collections_outreach.adapters.api import create_api
from collections_outreach.app.inputs import read_inputs
from collections_outreach.app.tables import INPUTS, TABLES, TRAIL

from .conftest import Harness

RESULT = {"channel": "call", "outcome": "answered_rpc", "occurred_at": "2026-01-12T02:00:00Z"}
PLAN = {"kind": "plan", "installments": [{"due_on": "2026-01-20", "amount_minor": 300}]}
PER_ACCOUNT_READS = ["", "/trail", "/trail/verify", "/arrangements", "/explain?as_of=2026-01-11"]


@pytest.fixture
async def client(outreach: Harness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(outreach.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://outreach") as c:
        yield c


async def _rows(outreach: Harness, table: Any) -> int:
    async with outreach.runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize("account", ["nobody", "$clock"])
async def test_every_agent_route_answers_404_for_an_unknown_account(
    outreach: Harness, client: httpx.AsyncClient, account: str
) -> None:
    await outreach.opened("A")
    await outreach.close(date(2026, 1, 11))
    inputs_before = await _rows(outreach, INPUTS)
    for suffix in PER_ACCOUNT_READS:
        response = await client.get(f"/accounts/{account}{suffix}")
        assert response.status_code == 404, (suffix, response.text)
        assert response.json() == {"detail": f"unknown account {account}"}
    for path, body in (("contact-results", RESULT), ("arrangements", PLAN)):
        response = await client.post(f"/accounts/{account}/{path}", json=body)
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"detail": f"unknown account {account}"}
    # Nothing was made: no event handled, published, recorded, and the account is still unknown.
    assert await _rows(outreach, INPUTS) == inputs_before
    assert await _rows(outreach, TRAIL) == 0
    assert (await client.get(f"/accounts/{account}")).status_code == 404
    async with outreach.runtime.db.sessions() as session:
        snapshots = TABLES["snapshots"]
        assert await session.scalar(select(snapshots.c.stream_id).where(snapshots.c.stream_id == "nobody")) is None


async def test_the_404_comes_before_the_body_is_judged(client: httpx.AsyncClient) -> None:
    response = await client.post("/accounts/nobody/contact-results", json={"channel": "fax"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("contact-results", {**RESULT, "note": "hello"}, ["body", "note"]),
        ("contact-results", {**RESULT, "promise": {"amount_minor": 5, "promised_on": "2026-01-20", "x": 1}}, None),
        ("arrangements", {**PLAN, "comment": "x"}, ["body", "comment"]),
        ("arrangements", {**PLAN, "installments": [{"due_on": "2026-01-20", "amount_minor": 3, "y": 0}]}, None),
    ],
)
async def test_unknown_fields_are_422_naming_them(
    outreach: Harness, client: httpx.AsyncClient, path: str, body: dict[str, Any], loc: list[Any] | None
) -> None:
    await outreach.opened("A")
    response = await client.post(f"/accounts/A/{path}", json=body)
    assert response.status_code == 422, response.text
    locs = [d["loc"] for d in response.json()["detail"]]
    assert all(d["type"] == "extra_forbidden" for d in response.json()["detail"])
    if loc is not None:
        assert locs == [loc]
    else:
        assert len(locs) == 1 and locs[0][-1] in {"x", "y"}
    assert await _rows(outreach, TRAIL) == 0


async def test_a_result_without_occurred_at_takes_the_commands_arrival_instant(
    outreach: Harness, client: httpx.AsyncClient
) -> None:
    await outreach.opened("A")
    before = datetime.now(UTC)
    response = await client.post("/accounts/A/contact-results", json={"channel": "call", "outcome": "no_answer"})
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    record = response.json()["record"]
    assert before <= parse_instant(record["occurred_at"]) <= after
    # The arrival instant is the command's own event time (the handled input outreach logged).
    async with outreach.runtime.db.sessions() as session:
        logged = (await read_inputs(session, "A"))[-1][2]
    command = json.loads(logged)
    assert command["type"] == "contact.result_reported"
    assert command["time"] == command["data"]["occurred_at"] == record["occurred_at"]
    trail = (await client.get("/accounts/A/trail")).json()["records"]
    assert trail == [record]


async def test_an_arrangement_without_occurred_at_is_made_on_the_arrival_day(
    outreach: Harness, client: httpx.AsyncClient
) -> None:
    await outreach.opened("A", tz="UTC")
    today = datetime.now(UTC).date()
    await outreach.delinquent("A", today - timedelta(days=1), today - timedelta(days=3))
    plan = {"kind": "plan", "installments": [{"due_on": (today + timedelta(days=5)).isoformat(), "amount_minor": 3}]}
    response = await client.post("/accounts/A/arrangements", json=plan)
    assert response.status_code == 201, response.text
    assert response.json()["arrangement"]["made_on"] in {today.isoformat(), datetime.now(UTC).date().isoformat()}


def test_openapi_shows_typed_bodies_and_the_404s(outreach: Harness) -> None:
    schema = create_api(outreach.runtime).openapi()
    assert schema["info"]["title"] == "Collections Outreach"
    components = schema["components"]["schemas"]
    for path, model in (("contact-results", "ContactResultBody"), ("arrangements", "ArrangementBody")):
        operation = schema["paths"][f"/accounts/{{account_id}}/{path}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}
        assert components[model]["additionalProperties"] is False
        assert "occurred_at" not in components[model].get("required", [])
        assert "404" in operation["responses"]
    assert components["InstallmentBody"]["additionalProperties"] is False
    assert components["ContactResultBody"]["properties"]["attempt_id"]["anyOf"][0]["maxLength"] == 200
