"""The fuzz campaign through Kafka (issue 15, Fuzzing).

Every generated message (campaign.py) gets a wire form (structured or binary mode, wrong or missing
CloudEvents headers, sometimes a topic that is not its type's) and goes through `decode_message`
and the topic check the consumer applies: none may raise or reach the decoder's catch-all, and every
message the generator made invalid must be a rejection. Then a sample (COLLECTIONS_FUZZ_KAFKA) is
published to the real broker, on the ledger's topics (billing and payments, which it answers for),
and consumed by the ledger running on PostgreSQL: each message is either applied (its id in the
inbox, no rejection) or rejected exactly once (one `system.event_rejected`, its id derived from the
event's id or the message's position), and the service is still running. Prints the counts.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from collections_events.ids import derive_id
from collections_events.registry import DEFAULT_TOPICS, EVENT_TYPES
from collections_events.testing import consume_all, import_file, produce_raw, running_service, unique_topics_config
from collections_events.transport.kafka import decode_message, decode_record, on_its_topic
from collections_events.validation import Event, Rejection
from collections_ledger.adapters.spec import SPEC

campaign = import_file(Path(__file__).parent / "campaign.py", "fuzz_campaign")

CATCH_ALL = re.compile(r"^unreadable message: [A-Z]\w*(Error|Exception|Exit)\b")
"""The reason decode_message gives when something raised inside it: a crash it hid."""

LEDGER_TOPICS = ("billing", "payments")


def _decoded(message: object, topic_name: str) -> Event | Rejection:
    return on_its_topic(decode_message(message.value, message.headers), message.topic_key, topic_name)  # type: ignore[attr-defined]


def test_decode_message_reads_every_fuzzed_message_without_a_crash() -> None:
    started = time.monotonic()
    built = campaign.build(
        campaign.size("COLLECTIONS_FUZZ_MESSAGES", 3000), pool_per_type=campaign.size("COLLECTIONS_FUZZ_POOL", 12)
    )
    rng = random.Random(151)
    events = rejected = 0
    crashes, problems = [], []
    for message in built.messages:
        wired = campaign.wire(rng, message)
        parsed = _decoded(wired, DEFAULT_TOPICS[wired.topic_key])
        if isinstance(parsed, Rejection):
            rejected += 1
            if CATCH_ALL.match(parsed.reason):
                crashes.append((wired.kind, parsed.reason))
        else:
            events += 1
            if wired.must_reject:
                problems.append(f"{wired.kind}: accepted although invalid: {wired.headers!r} {wired.value!r:.300}")
    print(
        f"\nfuzz decode_message: {len(built.messages):,} generated, {events:,} events, {rejected:,} rejected, "
        f"{len(crashes)} crashes, {time.monotonic() - started:.1f} s"
    )
    assert not crashes, crashes[:10]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.kafka
@pytest.mark.postgres
async def test_a_running_service_applies_or_rejects_each_fuzzed_message_once(kafka_bootstrap: str, pg_url: str) -> None:
    started = time.monotonic()
    sample = campaign.size("COLLECTIONS_FUZZ_KAFKA", 150)
    built = campaign.build(sample, pool_per_type=campaign.size("COLLECTIONS_FUZZ_POOL", 12), seed=16)
    config = unique_topics_config()
    rng = random.Random(152)
    wired = []
    for message in built.messages:
        form = campaign.wire(rng, message)
        if form.topic_key not in LEDGER_TOPICS:
            type_name = message.envelope.get("type") if message.envelope else None
            own = EVENT_TYPES[type_name].topic if isinstance(type_name, str) and type_name in EVENT_TYPES else None
            form.topic_key = rng.choice([t for t in LEDGER_TOPICS if t != own])
            form.kind += f" / on {form.topic_key}"
            # Its type is another topic's (or unknown): if it reads as an event, the topic is wrong.
            form.must_reject = form.must_reject or message.envelope is not None
        wired.append(form)
    by_topic: dict[str, list[int]] = {}
    for index, form in enumerate(wired):
        by_topic.setdefault(form.topic_key, []).append(index)
    positions: dict[int, str] = {}
    for topic_key, indexes in by_topic.items():
        topic = config.topics.name(topic_key)
        metadata = await produce_raw(
            kafka_bootstrap,
            topic,
            [(wired[i].key, wired[i].value, [(n, v) for n, v in wired[i].headers if v is not None]) for i in indexes],
        )
        for i, meta in zip(indexes, metadata, strict=True):
            positions[i] = f"kafka:{topic}/{meta.partition}/{meta.offset}"

    # What the ledger will make of each message: the decoder's answer on the message as it was sent
    # (headers with a null value cannot be sent by aiokafka, so they are left out above and here).
    expect_event: dict[int, str] = {}
    expect_rejection: dict[int, str] = {}
    for index, form in enumerate(wired):
        topic = config.topics.name(form.topic_key)
        headers = [(n, v) for n, v in form.headers if v is not None]
        parsed = on_its_topic(decode_message(form.value, headers), form.topic_key, topic)
        if isinstance(parsed, Event):
            expect_event[index] = parsed.id
        else:
            expect_rejection[index] = derive_id(parsed.event_id or positions[index], "rejected")

    database = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    inbox = SPEC.tables["inbox"].name
    wanted = set(expect_event.values()) | set(expect_rejection.values())
    async with running_service(SPEC, database_url=pg_url, bootstrap_servers=kafka_bootstrap, config=config) as task:
        deadline = time.monotonic() + 120
        handled: set[str] = set()
        while not wanted <= handled:
            assert not task.done(), "the ledger stopped"
            assert time.monotonic() < deadline, f"not handled after 120 s: {sorted(wanted - handled)[:5]}"
            await asyncio.sleep(0.5)
            conn = await asyncpg.connect(database)
            try:
                rows = await conn.fetch(f"SELECT event_id FROM {inbox} WHERE consumer = 'ledger'")
            finally:
                await conn.close()
            handled = {r["event_id"] for r in rows}
        records = await consume_all(
            kafka_bootstrap,
            [config.topics.rejected],
            until=lambda rs: len(rs) >= len(expect_rejection),
            timeout=60,
        )
        await asyncio.sleep(2)  # rejections by a business rule may still be on their way
        records = await consume_all(kafka_bootstrap, [config.topics.rejected], timeout=60)
        alive = not task.done()

    rejection_ids: Counter[str] = Counter()
    for record in records:
        parsed = decode_record(record)
        assert isinstance(parsed, Event), parsed
        rejection_ids[parsed.id] += 1
    problems = []
    applied = rejected_by_rule = 0
    for index, event_id in expect_event.items():
        seen = rejection_ids[derive_id(event_id, "rejected")]
        if wired[index].must_reject:
            problems.append(f"{wired[index].kind}: accepted although invalid")
        if seen == 0:
            applied += 1
        elif seen == 1:
            rejected_by_rule += 1
        else:
            problems.append(f"{wired[index].kind}: {seen} rejections")
    for index, rejection_id in expect_rejection.items():
        if rejection_ids[rejection_id] != 1:
            problems.append(f"{wired[index].kind}: {rejection_ids[rejection_id]} rejections, expected 1")
    failed = [r for r in records if b"handler failed" in (r.value or b"")]
    print(
        f"\nfuzz kafka: {len(wired):,} published to the broker, {applied:,} applied, "
        f"{len(expect_rejection):,} rejected unread, {rejected_by_rule:,} rejected by a rule, "
        f"{len(failed)} crashes, ledger alive: {alive}, {time.monotonic() - started:.1f} s"
    )
    assert alive
    assert not failed
    assert not problems, "\n".join(problems[:20])
    assert sum(rejection_ids.values()) == len(expect_rejection) + rejected_by_rule
