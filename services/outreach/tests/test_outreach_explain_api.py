"""GET /accounts/{id}/explain?as_of=D (behaviour.md, Explanations): shape, reasons, bad input."""

from __future__ import annotations

from datetime import date

import httpx

from collections_outreach.adapters.api import create_api

from .conftest import Harness, of_type

D0 = date(2026, 1, 10)
D1 = date(2026, 1, 11)


async def test_explain_says_what_the_close_decided_and_why(outreach: Harness) -> None:
    await outreach.opened("A", consents={"sms": True, "email": True, "push": False, "autodialed_calls": True})
    opened_id = "evt-1"
    flagged = await outreach.delinquent("A", D1, D0)
    assert flagged == []
    published = await outreach.close(D1)
    requested = of_type(published, "outreach.contact_requested")
    app = create_api(outreach.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as client:
        body = (await client.get("/accounts/A/explain", params={"as_of": D1.isoformat()})).json()
        unknown = await client.get("/accounts/NOPE/explain", params={"as_of": D1.isoformat()})
        not_closed = await client.get("/accounts/A/explain", params={"as_of": "2026-01-12"})
        not_a_date = await client.get("/accounts/A/explain", params={"as_of": "tomorrow"})
    assert set(body) >= {"account_id", "as_of", "dpd", "bucket", "delinquent_since", "strategy", "steps"}
    assert (body["dpd"], body["bucket"], body["delinquent_since"], body["strategy"]) == (
        1,
        "1-29",
        "2026-01-10",
        "champion",
    )
    steps = {s["step"]: s for s in body["steps"]}
    assert steps["sms-reminder"]["decision"] == "requested"
    assert steps["sms-reminder"]["attempt_id"] == requested[0]["attempt_id"]
    push = steps["push-reminder"]
    assert (push["decision"], push["reason"]) == ("suppressed", "no_consent")
    assert opened_id in push["because"]
    assert (steps["calls"]["decision"], steps["calls"]["reason"]) == ("not_due", "below_from_dpd")
    assert all(set(s) == {"step", "channel", "decision", "reason", "attempt_id", "because"} for s in body["steps"])
    assert unknown.status_code == 404
    assert not_closed.status_code == 422 and "not a closed business date" in not_closed.json()["detail"]
    assert not_a_date.status_code == 422
