"""The Kafka process runner against the real broker and PostgreSQL (issue 2, What it must show).

The ledger is the service under test: its handler is real, its topics are unique per test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import defaultdict
from typing import Any

import pytest

from collections_events.testing import (
    Record,
    consume_all,
    make_envelope,
    produce,
    produce_raw,
    running_service,
    unique_topics_config,
)
from collections_events.transport.kafka import decode_record
from collections_events.validation import Event
from collections_ledger.adapters.spec import SPEC

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def due(account: str, due_id: str, amount: int, on: str = "2024-01-10") -> dict[str, Any]:
    return {
        "account_id": account,
        "due_id": due_id,
        "due_date": on,
        "amount_due_minor": amount,
        "statement_balance_minor": amount,
    }


def payment(account: str, payment_id: str, amount: int) -> dict[str, Any]:
    return {"account_id": account, "payment_id": payment_id, "amount_minor": amount, "received_on": "2024-01-05"}


def events_of(records: list[Record], type_name: str) -> list[Event]:
    out = []
    for record in records:
        parsed = decode_record(record)
        assert isinstance(parsed, Event), parsed
        if parsed.type == type_name:
            out.append(parsed)
    return out


async def test_one_accounts_events_keep_their_order_across_partitions(kafka_bootstrap: str, pg_url: str) -> None:
    config = unique_topics_config()
    accounts = [f"acc-{n:02d}" for n in range(12)]
    per_account = 10
    # Interleaved: p1 of every account, then p2 of every account, ...
    envelopes = [
        make_envelope("payment.received", payment(a, f"{a}-p{i}", 10 * i), event_id=f"{a}-e{i}")
        for i in range(1, per_account + 1)
        for a in accounts
    ]
    metadata = await produce(kafka_bootstrap, config.topics.payments, envelopes)
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for envelope, meta in zip(envelopes, metadata, strict=True):
        partitions_of[envelope.subject].add(meta.partition)
    assert all(len(p) == 1 for p in partitions_of.values()), "one account, one partition"
    assert len({next(iter(p)) for p in partitions_of.values()}) >= 2, "accounts spread over several partitions"

    async with running_service(SPEC, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config):
        out = await consume_all(
            kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= len(envelopes), timeout=60
        )

    changes = events_of(out, "ledger.balance_changed")
    assert len(changes) == len(envelopes)
    by_account: dict[str, list[Event]] = defaultdict(list)
    for change in changes:
        by_account[change.envelope.subject].append(change)
    for account in accounts:
        seen = by_account[account]
        assert [c.envelope.data["cause_id"] for c in seen] == [f"{account}-e{i}" for i in range(1, per_account + 1)]
        credits = [c.envelope.data["credit_minor"] for c in seen]
        assert credits == [10 * i * (i + 1) // 2 for i in range(1, per_account + 1)]


async def test_a_poison_message_is_dead_lettered_and_the_events_behind_it_go_on(
    kafka_bootstrap: str, pg_url: str
) -> None:
    config = unique_topics_config()
    billing = config.topics.billing
    poison_headers = [("origin", b"legacy-system"), ("content-type", b"application/json")]
    first = make_envelope("payment.due", due("acc-p", "d1", 1000), event_id="poison-before")
    after = make_envelope("payment.due", due("acc-p", "d2", 500, "2024-02-10"), event_id="poison-after")
    await produce(kafka_bootstrap, billing, [first])
    await produce_raw(kafka_bootstrap, billing, [(b"acc-p", b"\x00{not json", poison_headers)])
    # A readable event with a bad field is refused too (and also dead-lettered by the topic's owner).
    negative = make_envelope("payment.due", due("acc-p", "d3", -5), event_id="poison-negative")
    await produce(kafka_bootstrap, billing, [negative, after])

    async with running_service(SPEC, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config):
        ledger = await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 2, timeout=60)
        dlq = await consume_all(kafka_bootstrap, [f"{billing}.dlq"], until=lambda r: len(r) >= 2, timeout=60)
        rejected = await consume_all(kafka_bootstrap, [config.topics.rejected], until=lambda r: len(r) >= 2, timeout=60)

    assert [e.envelope.data["cause_id"] for e in events_of(ledger, "ledger.balance_changed")] == [
        "poison-before",
        "poison-after",
    ]
    raw = next(r for r in dlq if r.value == b"\x00{not json")
    assert raw.key == b"acc-p"
    headers = list(raw.headers)
    assert headers[: len(poison_headers)] == poison_headers, "original headers untouched, in order"
    extra = dict(headers[len(poison_headers) :])
    assert b"unreadable" in extra["dlq.reason"]
    assert extra["dlq.consumer"] == b"ledger"
    bad = next(r for r in dlq if r.value != b"\x00{not json")
    assert b"amount_due_minor" in dict(bad.headers)["dlq.reason"]

    reasons = {
        e.envelope.data["event_id"]: e.envelope.data["reason"] for e in events_of(rejected, "system.event_rejected")
    }
    assert set(reasons) == {None, "poison-negative"}
    assert "data.amount_due_minor" in reasons["poison-negative"]


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered(kafka_bootstrap: str, pg_url: str) -> None:
    config = unique_topics_config()

    async def failing(event: Any, uow: Any) -> None:
        if event.id == "boom":
            raise RuntimeError("a bug in the handler")
        await SPEC.handle(event, uow)

    spec = dataclasses.replace(SPEC, handle=failing)
    envelopes = [
        make_envelope("payment.due", due("acc-h", "d1", 100), event_id="ok-1"),
        make_envelope("payment.due", due("acc-h", "d2", 200), event_id="boom"),
        make_envelope("payment.due", due("acc-h", "d3", 300), event_id="ok-2"),
    ]
    await produce(kafka_bootstrap, config.topics.billing, envelopes)
    async with running_service(spec, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config):
        ledger = await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 2, timeout=60)
        dlq = await consume_all(
            kafka_bootstrap, [f"{config.topics.billing}.dlq"], until=lambda r: len(r) >= 1, timeout=60
        )
        rejected = await consume_all(kafka_bootstrap, [config.topics.rejected], until=lambda r: len(r) >= 1, timeout=60)
    assert [e.envelope.data["cause_id"] for e in events_of(ledger, "ledger.balance_changed")] == ["ok-1", "ok-2"]
    assert len(dlq) == 1 and dict(dlq[0].headers)["ce_id"] == b"boom"
    assert dict(dlq[0].headers)["dlq.reason"] == b"handler failed: RuntimeError"
    assert [e.envelope.data["event_id"] for e in events_of(rejected, "system.event_rejected")] == ["boom"]


async def test_the_consumer_span_continues_the_producers_trace_and_the_relay_sends_under_it(
    kafka_bootstrap: str, pg_url: str
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # join an SDK provider another test installed
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))

    config = unique_topics_config()
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    envelope = make_envelope("payment.due", due("acc-t", "d1", 100), event_id="traced")
    envelope = envelope.model_copy(update={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    await produce(kafka_bootstrap, config.topics.billing, [envelope])
    async with running_service(SPEC, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config):
        out = await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 1, timeout=60)

    [span] = [s for s in spans.get_finished_spans() if s.attributes.get("messaging.message.id") == "traced"]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id
    sent = dict(out[0].headers)["traceparent"].decode()
    assert sent == f"00-{trace_id}-{format(span.context.span_id, '016x')}-01", "the relay sends under the consumer span"
    assert json.loads(out[0].value)["cause_id"] == "traced"


async def test_a_stopped_service_commits_and_stops_quickly(kafka_bootstrap: str, pg_url: str) -> None:
    config = unique_topics_config()
    await produce(
        kafka_bootstrap,
        config.topics.billing,
        [make_envelope("payment.due", due("acc-s", f"d{i}", 100 + i), event_id=f"s{i}") for i in range(50)],
    )
    loop = asyncio.get_running_loop()
    async with running_service(SPEC, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config):
        await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 50, timeout=60)
        started = loop.time()
    assert loop.time() - started < 5
