"""The distributed platform decides what `collections replay` decides (issue 6, end-to-end tests).

Each service runs as its own OS process (`collections-<service> run`) on the session's real Kafka
and PostgreSQL, one database each, topics unique to the test. The input is a generated portfolio
(30 accounts over 60 business days, seed 18: dues, payments, reversals, flags, contact updates),
plus hand-made contact results carrying a promise and an arrangement, and one invalid line; the
config shortens referral and charge-off so that all four services publish within 60 days.

It is published in file order by `collections_platform.distributed.publish_file`, waiting after
every day close and before every line whose topic differs from the previous line's, until every
consumer group has caught up (lag 0) and every outbox is empty. behaviour.md (Time and order)
promises replay's exact events when one waits after every line; waiting at topic changes is
enough for this input (see `settle_points`) and keeps the test short.
The published events are then compared as a set with replay's output: id, type, source, subject,
time and data, all equal. Left out of the comparison: `traceparent` (no tracing here) and a
rejection's `data.line` (replay's line number; Kafka has none).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collections_events.config import parse_config
from collections_events.registry import EVENT_TYPES
from collections_events.testing import decode_events
from collections_platform.distributed import comparable, publish_file, read_published
from collections_platform.replay import replay
from collections_platform.simulation.calendar import next_business_day
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CONFIG = {"legal": {"referral_dpd": 30}, "delinquency": {"charge_off_dpd": 45}}
SETTINGS = PortfolioSettings(seed=18, accounts=30, days=60, start=date(2026, 1, 5))


def _result(account: dict[str, Any], n: int, day: date, extra: dict[str, Any]) -> dict[str, Any]:
    """A customer-started right-party call on business date `day` (noon in the customer's zone)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(account["timezone"]))
    occurred = noon.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "specversion": "1.0",
        "id": f"e2e-hand-result-{n}",
        "source": "test/agents-desktop",
        "type": "contact.result_reported",
        "subject": account["account_id"],
        "time": occurred,
        "datacontenttype": "application/json",
        "data": {
            "account_id": account["account_id"],
            "attempt_id": None,
            "channel": "call",
            "outcome": "answered_rpc",
            "occurred_at": occurred,
            **extra,
        },
    }


async def build_input(tmp_path: Path) -> Path:
    """The portfolio, with a promise and a plan inserted after the first closes that make two
    accounts delinquent (found by a first replay of the portfolio alone), and one invalid line."""
    events = list(generate_events(SETTINGS))
    plain = tmp_path / "portfolio.jsonl"
    plain.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    await replay(plain, tmp_path / "portfolio.out.jsonl", _config(), None)
    late: dict[str, tuple[str, int]] = {}  # account -> (as_of, past_due) of its first delinquency
    for line in (tmp_path / "portfolio.out.jsonl").read_text(encoding="utf-8").splitlines():
        out = json.loads(line)
        data = out["data"]
        if out["type"] == "delinquency.bucket_changed" and data["to_bucket"] != "current":
            late.setdefault(data["account_id"], (data["as_of"], data["past_due_minor"]))
    opened = {e["data"]["account_id"]: e["data"] for e in events if e["type"] == "account.opened"}
    (promiser, (p_day, p_due)), (planner, (a_day, a_due)) = sorted(late.items(), key=lambda kv: kv[1])[:2]
    p_next = next_business_day(date.fromisoformat(p_day) + timedelta(days=3))
    a_next = next_business_day(date.fromisoformat(a_day) + timedelta(days=3))
    promise = _result(
        opened[promiser],
        1,
        p_next,
        {"promise": {"amount_minor": p_due, "promised_on": (p_next + timedelta(days=4)).isoformat()}},
    )
    half = max(1, a_due // 2)
    plan = {
        "kind": "plan",
        "installments": [
            {"due_on": (a_next + timedelta(days=7)).isoformat(), "amount_minor": half},
            {"due_on": (a_next + timedelta(days=21)).isoformat(), "amount_minor": max(1, a_due - half)},
        ],
    }
    arrangement = _result(opened[planner], 2, a_next, {"arrangement": plan})
    invalid = {**events[40], "id": "e2e-invalid-1", "type": "payment.received"}
    invalid["data"] = {"account_id": invalid["subject"], "payment_id": "X", "amount_minor": -5, "received_on": "x"}
    out_events: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "day.closed":  # results come during the business day, before its close
            day = event["data"]["as_of"]
            out_events += [r for r, d in ((promise, p_next), (arrangement, a_next)) if d.isoformat() == day]
        out_events.append(event)
        if len(out_events) == 41:
            out_events.append(invalid)
    assert promise in out_events and arrangement in out_events
    path = tmp_path / "input.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in out_events), encoding="utf-8")
    return path


def _config() -> Any:
    return parse_config(CONFIG)


def settle_points(source: Path) -> list[bool]:
    """For each line, whether to settle after it: after a close, and before a line of another topic.

    Replay drains after every line; settling only where the topic changes is enough here because
    consecutive lines of one topic reach every service in the same order as in replay for each
    account (one partition per account), and accounts do not interact between closes.
    """
    topics = [EVENT_TYPES[json.loads(line)["type"]].topic for line in source.read_text().splitlines() if line]
    return [
        topic == "clock" or index + 1 == len(topics) or topics[index + 1] != topic for index, topic in enumerate(topics)
    ]


def decoded(records: list[Any]) -> list[dict[str, Any]]:
    """The structured form of each record (every record must be a readable event)."""
    return [event.envelope.to_structured() for event in decode_events(records)]


async def test_distributed_run_publishes_replays_events(
    distributed_platform: Callable[..., Any], tmp_path: Path
) -> None:
    source = await build_input(tmp_path)
    platform = distributed_platform(CONFIG)
    await replay(source, tmp_path / "replay.jsonl", platform.config, None)
    expected = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text(encoding="utf-8").splitlines()]

    began = time.monotonic()
    await platform.start()
    started = time.monotonic() - began
    async with platform.settler() as settler:
        await platform.settle(settler)

        boundaries = iter(settle_points(source))

        async def wait(_line: dict[str, Any] | None) -> None:
            if next(boundaries):
                await platform.settle(settler)

        began = time.monotonic()
        published = await publish_file(platform.bootstrap, source, platform.config, wait)
        fed = time.monotonic() - began
    actual = decoded(await read_published(platform.bootstrap, platform.config))
    print(f"start {started:.1f}s, {published} lines fed and settled in {fed:.1f}s, {len(actual)} events out")

    types = Counter(e["type"] for e in expected)
    for needed in (
        "ledger.balance_changed",
        "delinquency.bucket_changed",
        "delinquency.charged_off",
        "outreach.contact_requested",
        "outreach.contact_suppressed",
        "outreach.promise_recorded",
        "outreach.arrangement_made",
        "legal.case_opened",
        "system.event_rejected",
    ):
        assert types[needed], f"the input should make replay publish {needed}: {types}"
    assert len(actual) == len(expected), "no event duplicated or missing on the wire"
    assert {comparable(e) for e in actual} == {comparable(e) for e in expected}
