"""The channel simulator: contract-valid results, inside the request's window, seeded, realistic."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collections_events.envelope import parse_instant
from collections_events.inbound import ContactResultReported
from collections_events.validation import Event, read_structured
from collections_platform.simulation.channels import ChannelSimulator

ACCOUNT = "acc-00042"


def request(channel: str, n: int, not_before: str = "2026-03-03T13:00:00Z", not_after: str = "2026-03-04T02:00:00Z"):
    return {
        "type": "outreach.contact_requested",
        "data": {
            "attempt_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"attempt-{channel}-{n}")),
            "account_id": ACCOUNT,
            "channel": channel,
            "template": "t",
            "destination": "+12125550123",
            "not_before": not_before,
            "not_after": not_after,
            "step": "s",
            "as_of": "2026-03-02",
        },
    }


def simulator() -> ChannelSimulator:
    sim = ChannelSimulator(seed=5, propensity=lambda _a: 0.7)
    sim.observe({"type": "account.opened", "data": {"account_id": ACCOUNT, "timezone": "America/New_York"}})
    sim.observe(
        {
            "type": "payment.due",
            "data": {"account_id": ACCOUNT, "due_date": "2026-02-01", "statement_balance_minor": 90_000},
        }
    )
    sim.observe(
        {
            "type": "ledger.balance_changed",
            "data": {
                "account_id": ACCOUNT,
                "unpaid_dues": [{"due_id": "d1", "due_date": "2026-02-01", "unpaid_minor": 30_000}],
            },
        }
    )
    return sim


def validated(result: dict) -> ContactResultReported:
    parsed = read_structured(result, inbound_only=True)
    assert isinstance(parsed, Event), getattr(parsed, "reason", None)
    assert isinstance(parsed.data, ContactResultReported)
    return parsed.data


def test_results_are_valid_inside_the_window_and_realistic_by_channel() -> None:
    sim = simulator()
    outcomes: dict[str, Counter[str]] = {}
    for channel in ("sms", "email", "push", "call", "letter"):
        for n in range(300):
            req = request(channel, n)
            for result in sim.answer(req):
                data = validated(result)
                assert result["time"] == data.occurred_at
                at = parse_instant(data.occurred_at)
                assert parse_instant(req["data"]["not_before"]) <= at <= parse_instant(req["data"]["not_after"])
                if data.attempt_id is None:
                    assert data.channel == "call" and data.outcome == "answered_rpc"
                    continue
                assert data.attempt_id == req["data"]["attempt_id"]
                outcomes.setdefault(channel, Counter())[data.outcome] += 1
    assert set(outcomes["sms"]) <= {"delivered", "failed", "expired"}
    assert outcomes["sms"]["delivered"] > 250
    assert {"no_answer", "voicemail", "busy", "answered_rpc", "answered_third_party", "wrong_number"} == set(
        outcomes["call"]
    )


def test_right_party_contacts_bring_promises_and_arrangements_within_the_rules() -> None:
    sim = simulator()
    promises = plans = settlements = 0
    for n in range(600):
        for result in sim.answer(request("call", n)):
            data = validated(result)
            day = date(2026, 3, 3)
            if data.promise is not None:
                promises += 1
                assert day <= data.promise.promised_on <= day + timedelta(days=10)
                assert data.promise.amount_minor <= 30_000
            if data.arrangement is not None:
                installments = data.arrangement.installments
                assert installments[0].due_on > day
                assert all(d.due_on.weekday() < 5 for d in installments)
                if data.arrangement.kind == "plan":
                    plans += 1
                    assert 2 <= len(installments) <= 6
                    assert data.arrangement.total_minor == 30_000
                else:
                    settlements += 1
                    assert 1 <= len(installments) <= 3
                    assert 45_000 <= data.arrangement.total_minor <= 72_000
    assert promises > 20 and plans > 5 and settlements > 1
    payments = sim.take_payments()
    assert payments and all(p.account_id == ACCOUNT and p.amount_minor > 0 for p in payments)
    assert all(p.on >= date(2026, 3, 3) for p in payments)
    assert sim.take_payments() == []


def test_a_declined_arrangement_is_not_paid() -> None:
    sim = simulator()
    for n in range(200):
        sim.answer(request("call", n))
    sim.observe({"type": "outreach.arrangement_declined", "data": {"account_id": ACCOUNT, "reason": "x"}})
    kept = sim.take_payments()
    assert kept  # promises stay
    again = simulator()
    for n in range(200):
        again.answer(request("call", n))
    assert len(again.take_payments()) > len(kept)


def test_the_same_attempt_gets_the_same_answer() -> None:
    assert simulator().answer(request("call", 7)) == simulator().answer(request("call", 7))


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
    seconds=st.integers(min_value=0, max_value=20 * 3600),
    micro=st.integers(min_value=0, max_value=999_999),
    channel=st.sampled_from(["sms", "email", "push", "call", "letter"]),
)
def test_occurred_at_is_always_inside_any_window(start: datetime, seconds: int, micro: int, channel: str) -> None:
    begin = start.replace(tzinfo=UTC, microsecond=micro)
    end = begin + timedelta(seconds=seconds)
    req = request(channel, seconds, begin.isoformat().replace("+00:00", "Z"), end.isoformat())
    for result in simulator().answer(req):
        at = parse_instant(validated(result).occurred_at)
        assert begin <= at <= end
