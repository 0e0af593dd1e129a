"""Outreach end to end on the embedded platform: episodes, steps, requests, the trail, once per date."""

from __future__ import annotations

from datetime import date, timedelta

from collections_events.audit_chain import verify_chain

from .conftest import Harness, of_type

D0 = date(2026, 1, 10)  # the due date the account missed


async def test_default_strategy_requests_in_order_with_trail(outreach: Harness) -> None:
    await outreach.opened("A1")
    await outreach.delinquent("A1", D0 + timedelta(days=1), D0)
    out = await outreach.close(D0 + timedelta(days=1))  # dpd 1
    requests = of_type(out, "outreach.contact_requested")
    assert [r["step"] for r in requests] == ["sms-reminder", "push-reminder"]
    assert requests[0]["destination"] == "+8613800000001"
    assert requests[1]["destination"] == "cust-A1"
    # window of D+1 = 2026-01-12 08:00-21:00 Asia/Shanghai
    assert requests[0]["not_before"] == "2026-01-12T00:00:00Z"
    assert requests[0]["not_after"] == "2026-01-12T13:00:00Z"
    records = of_type(out, "outreach.contact_recorded")
    assert [r["sequence"] for r in records] == [1, 2]
    assert records[0]["attempt_id"] == requests[0]["attempt_id"]
    assert records[0]["kind"] == "requested" and records[0]["outcome"] is None
    assert records[0]["as_of"] == "2026-01-11"
    assert records[0]["occurred_at"] == "2026-01-11T16:00:00Z"
    assert verify_chain(records).ok
    # Nothing more until dpd 5 (email), then calls every day from dpd 10.
    out = await outreach.close_range(D0 + timedelta(days=2), D0 + timedelta(days=11))
    steps = [(r["as_of"], r["step"]) for r in of_type(out, "outreach.contact_requested")]
    assert steps == [
        ("2026-01-15", "email-reminder"),
        ("2026-01-20", "calls"),
        ("2026-01-21", "calls"),
    ]


async def test_episode_started_after_close_is_evaluated_at_once(outreach: Harness) -> None:
    await outreach.opened("A2")
    await outreach.close(D0 + timedelta(days=1))
    out = await outreach.delinquent("A2", D0 + timedelta(days=1), D0)
    assert [r["step"] for r in of_type(out, "outreach.contact_requested")] == ["sms-reminder", "push-reminder"]
    assert of_type(out, "outreach.contact_requested")[0]["not_before"] == "2026-01-12T00:00:00Z"
    # The next close does not evaluate it again for the same date, and dpd 2 fires nothing.
    assert of_type(await outreach.close(D0 + timedelta(days=2)), "outreach.contact_requested") == []


async def test_relapse_after_an_evaluated_close_is_evaluated_again_at_once(outreach: Harness) -> None:
    # Evaluated at the close of D in one episode, cured and relapsed (a reversal) before the next
    # close, published as of D: the new episode is evaluated as of D at once, window D+1.
    day = D0 + timedelta(days=5)
    await outreach.opened("A6")
    await outreach.delinquent("A6", D0 + timedelta(days=1), D0)
    await outreach.close_range(D0 + timedelta(days=1), day)
    await outreach.delinquent("A6", day, None)
    out = await outreach.delinquent("A6", day, D0)
    requests = of_type(out, "outreach.contact_requested")
    assert [(r["as_of"], r["step"]) for r in requests] == [
        (day.isoformat(), "sms-reminder"),
        (day.isoformat(), "push-reminder"),
        (day.isoformat(), "email-reminder"),
    ]
    assert requests[0]["not_before"] == "2026-01-16T00:00:00Z"
    assert of_type(await outreach.close(day + timedelta(days=1)), "outreach.contact_requested") == []


async def test_old_or_repeated_close_is_ignored(outreach: Harness) -> None:
    await outreach.opened("A3")
    await outreach.delinquent("A3", D0 + timedelta(days=1), D0)
    assert of_type(await outreach.close(D0 + timedelta(days=1)), "outreach.contact_requested")
    assert await outreach.close(D0 + timedelta(days=1)) == []
    assert await outreach.close(D0) == []


async def test_cure_ends_episode_and_new_episode_resets_steps(outreach: Harness) -> None:
    await outreach.opened("A4")
    await outreach.delinquent("A4", D0 + timedelta(days=1), D0)
    await outreach.close(D0 + timedelta(days=1))
    await outreach.delinquent("A4", D0 + timedelta(days=1), None)
    assert await outreach.close(D0 + timedelta(days=2)) == []
    d1 = date(2026, 2, 10)
    await outreach.delinquent("A4", d1 + timedelta(days=1), d1)
    out = await outreach.close(d1 + timedelta(days=1))
    assert [r["step"] for r in of_type(out, "outreach.contact_requested")] == ["sms-reminder", "push-reminder"]
    records = of_type(out, "outreach.contact_recorded")
    assert [r["sequence"] for r in records] == [3, 4]


async def test_results_are_recorded_on_the_trail(outreach: Harness) -> None:
    await outreach.opened("A5")
    # attempt_id null: a contact the customer started (an issued one is required otherwise, issue 15)
    out = await outreach.result("A5", "delivered", "2026-01-12T02:00:00Z", attempt_id=None, channel="sms")
    [record] = of_type(out, "outreach.contact_recorded")
    assert record["kind"] == "result" and record["outcome"] == "delivered" and record["as_of"] is None
    assert record["attempt_id"] is None and record["sequence"] == 1
    assert record["prev_hash"] == "0" * 64


async def test_replay_is_deterministic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import make_harness

    outputs = []
    for n in range(2):
        h = await make_harness(f"sqlite+aiosqlite:///{tmp_path / f'o{n}.sqlite3'}")
        await h.opened("A6")
        await h.delinquent("A6", D0 + timedelta(days=1), D0)
        await h.close_range(D0 + timedelta(days=1), D0 + timedelta(days=12))
        await h.runtime.db.close()
        outputs.append([e.to_structured() for e in h.published])
    assert outputs[0] == outputs[1]
