"""Promises to pay: recorded, kept at once, broken at the close of promised_on, ended by a cure."""

from __future__ import annotations

from datetime import date, timedelta

from .conftest import Harness, of_type

D0 = date(2026, 1, 10)
D1 = D0 + timedelta(days=1)
# Recorded 2026-01-12 10:00 in Shanghai: the promise's day is 2026-01-12.
AT = "2026-01-12T02:00:00Z"
PROMISE = {"amount_minor": 1000, "promised_on": "2026-01-15"}


async def setup(h: Harness) -> str:
    await h.opened("A")
    await h.delinquent("A", D1, D0)
    await h.close(D1)
    out = await h.result("A", "answered_rpc", AT, promise=PROMISE)
    [recorded] = of_type(out, "outreach.promise_recorded")
    assert recorded["amount_minor"] == 1000 and recorded["promised_on"] == "2026-01-15"
    return str(recorded["promise_id"])


async def test_kept_at_once_when_payments_reach_the_amount(outreach: Harness) -> None:
    pid = await setup(outreach)
    assert await outreach.payment("A", "p1", 400, date(2026, 1, 12)) == []
    out = await outreach.payment("A", "p2", 600, date(2026, 1, 15))
    assert [p["promise_id"] for p in of_type(out, "outreach.promise_kept")] == [pid]
    assert of_type(await outreach.close_range(date(2026, 1, 12), date(2026, 1, 16)), "outreach.promise_broken") == []


async def test_payments_outside_the_period_do_not_count(outreach: Harness) -> None:
    pid = await setup(outreach)
    await outreach.payment("A", "early", 1000, date(2026, 1, 11))
    await outreach.payment("A", "late", 1000, date(2026, 1, 16))
    assert of_type(await outreach.close_range(date(2026, 1, 12), date(2026, 1, 14)), "outreach.promise_broken") == []
    out = await outreach.close(date(2026, 1, 15))
    assert [p["promise_id"] for p in of_type(out, "outreach.promise_broken")] == [pid]
    # Broken is final.
    assert of_type(await outreach.payment("A", "p3", 1000, date(2026, 1, 15)), "outreach.promise_kept") == []


async def test_reversal_uncounts_a_payment(outreach: Harness) -> None:
    await setup(outreach)
    await outreach.payment("A", "p1", 600, date(2026, 1, 12))
    await outreach.reversal("A", "p1")
    assert of_type(await outreach.payment("A", "p2", 600, date(2026, 1, 13)), "outreach.promise_kept") == []
    out = await outreach.payment("A", "p1", 600, date(2026, 1, 12))  # received again after its reversal
    assert of_type(out, "outreach.promise_kept")


async def test_cure_keeps_the_promise(outreach: Harness) -> None:
    pid = await setup(outreach)
    out = await outreach.delinquent("A", D1, None)
    assert [p["promise_id"] for p in of_type(out, "outreach.promise_kept")] == [pid]
    assert of_type(await outreach.close(date(2026, 1, 15)), "outreach.promise_broken") == []


async def test_payment_that_arrived_before_the_promise_does_not_count(outreach: Harness) -> None:
    # behaviour.md: a payment counts when "it arrives while the promise is unsettled".
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.payment("A", "p1", 1000, date(2026, 1, 12))
    out = await outreach.result("A", "answered_rpc", AT, promise=PROMISE)
    assert of_type(out, "outreach.promise_recorded") and not of_type(out, "outreach.promise_kept")
    out = await outreach.payment("A", "p2", 1000, date(2026, 1, 13))
    assert len(of_type(out, "outreach.promise_kept")) == 1


async def test_broken_promise_resumes_contact_at_that_close(outreach: Harness) -> None:
    await setup(outreach)
    await outreach.close_range(date(2026, 1, 12), date(2026, 1, 14))
    out = await outreach.close(date(2026, 1, 15))  # dpd 5: the email step fires as the promise breaks
    types = [e.type for e in out]
    assert types.index("outreach.promise_broken") < types.index("outreach.contact_requested")
    assert [r["step"] for r in of_type(out, "outreach.contact_requested")] == ["email-reminder"]


async def test_unsettled_promise_suppresses(outreach: Harness) -> None:
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.result("A", "answered_rpc", "2026-01-10T02:00:00Z", promise=PROMISE)
    out = await outreach.close(D1)
    assert {s["reason"] for s in of_type(out, "outreach.contact_suppressed")} == {"promise_active"}
