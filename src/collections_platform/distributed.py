"""The distributed mode seen from outside: publish a replay input to Kafka, and wait for it to settle.

- `publish_file`: what `collections publish --bootstrap B FILE` does. Each line of a replay-style
  JSONL input (one structured-mode CloudEvent per line, contract.md, Envelope) is published in file
  order, in Kafka binary mode, keyed by subject, to the topic of its type (`config.topics`).
- `Settler`: waits until the platform has finished with what was published (behaviour.md, Time and
  order: "every consumer group has caught up and every outbox is empty"), the rule under which the
  distributed platform publishes exactly what `collections replay` publishes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import text

from collections_events.config import PlatformConfig
from collections_events.registry import EVENT_TYPES, TOPIC_KEYS
from collections_events.runtime.process import KafkaSettings, ensure_topics
from collections_events.runtime.service import ServiceSpec
from collections_events.store.database import Database
from collections_events.transport.kafka import STRUCTURED_CONTENT_TYPE, decode_record, encode_binary, producer_settings
from collections_events.validation import Event, read_json

log = structlog.get_logger("collections.publish")

Wait = Callable[[dict[str, Any] | None], Awaitable[None]]
"""Called after each published line is acknowledged, with the line's JSON object (None if unreadable)."""

INBOUND_KEYS = ("accounts", "billing", "payments", "clock", "results")


async def publish_file(bootstrap: str, path: Path, config: PlatformConfig, wait: Wait | None = None) -> int:
    """Publish every line of `path` in file order; returns how many messages were published.

    A valid inbound event goes in binary mode (`encode_binary`) to `config.topics.<its topic>`,
    keyed by its subject. An invalid line whose `type` is an inbound type goes untouched (the line's
    bytes, `content-type: application/cloudevents+json`) to that type's topic, so that the platform
    rejects it as replay does; a line with no readable inbound type is skipped with a warning (it
    has no topic; publishing a platform type would impersonate a service). Blank lines are skipped.

    With `wait`, each message is acknowledged before `wait(line_object)` is awaited, and the next
    line is published only after it returns (the test's "wait until settled" hook). Without it, the
    messages are pipelined; per partition, Kafka keeps file order (idempotent producer).

    Raises OSError when the file cannot be read, KafkaError when the broker refuses.
    """
    # Bytes, split on newlines: a line that is not UTF-8 is skipped with a warning (it has no
    # readable type to route it by), not the end of the file. A UTF-8 BOM does not belong to line 1.
    raw = await asyncio.to_thread(path.read_bytes)
    lines = raw.removeprefix(b"\xef\xbb\xbf").splitlines()
    settings = KafkaSettings.from_env(bootstrap)
    await ensure_topics(settings, [config.topics.name(key) for key in TOPIC_KEYS])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings(), **settings.options)
    await producer.start()
    published = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        for number, raw_line in enumerate(lines, start=1):
            if not raw_line.strip():
                continue
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                log.warning("line skipped: not UTF-8 text", line=number, byte=exc.start)
                continue
            routed = _route(line, number, config)
            if routed is None:
                continue
            topic, key, value, headers = routed
            future = await producer.send(topic, value=value, key=key, headers=headers)
            published += 1
            if wait is None:
                pending.append(future)
                continue
            await future
            await wait(_loads(line))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return published


def _route(
    line: str, number: int, config: PlatformConfig
) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]] | None:
    """(topic, key, value, headers) of one input line, or None when it has no topic (warned)."""
    parsed = read_json(line, inbound_only=True)
    if isinstance(parsed, Event):
        wire = encode_binary(parsed.envelope)
        return config.topics.name(EVENT_TYPES[parsed.type].topic), wire.key, wire.value, wire.headers
    entry = EVENT_TYPES.get(parsed.type or "")
    if entry is None or not entry.inbound:
        log.warning("line skipped: no inbound type to route it by", line=number, reason=parsed.reason[:200])
        return None
    key = parsed.subject.encode("utf-8") if parsed.subject else None
    headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode("ascii"))]
    log.warning("invalid line published as is", line=number, type=parsed.type, reason=parsed.reason[:200])
    return config.topics.name(entry.topic), key, line.encode("utf-8"), headers


def _loads(line: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


class Settler:
    """Tells when every service has finished with everything published so far.

    Settled means, in one observation: every consumer group `collections-<service>` has committed
    the end offset of every partition of every topic it consumes (lag 0), every service's outbox
    has no unsent row, and the end offsets did not move while the outboxes were read (a row sent
    in between would have moved them). `database_urls` maps service name to its database URL.
    """

    def __init__(
        self,
        bootstrap: str,
        config: PlatformConfig,
        specs: Sequence[ServiceSpec],
        database_urls: Mapping[str, str],
    ) -> None:
        self.bootstrap = bootstrap
        self.groups = {
            f"collections-{spec.name}": sorted({config.topics.name(key) for key in spec.topics}) for spec in specs
        }
        self.topics = sorted({t for topics in self.groups.values() for t in topics})
        self.dbs = {name: Database(url) for name, url in database_urls.items()}
        options = KafkaSettings.from_env(bootstrap).options
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, **options)
        self._partitions: dict[str, list[TopicPartition]] = {}
        self.polls = 0

    async def start(self) -> None:
        """Connect to Kafka (the topics must exist: services create them at start)."""
        await self._admin.start()
        await self._consumer.start()

    async def close(self) -> None:
        """Disconnect from Kafka and dispose of the database engines."""
        await self._consumer.stop()
        await self._admin.close()
        for db in self.dbs.values():
            await db.close()

    async def __aenter__(self) -> Settler:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _all_partitions(self) -> list[TopicPartition]:
        missing = [t for t in self.topics if t not in self._partitions]
        if missing:
            for topic in missing:
                found = self._consumer.partitions_for_topic(topic)
                if not found:
                    await self._consumer._client.force_metadata_update()
                    found = self._consumer.partitions_for_topic(topic)
                if found:
                    self._partitions[topic] = [TopicPartition(topic, p) for p in sorted(found)]
        return [tp for t in self.topics for tp in self._partitions.get(t, [])]

    async def _lag(self, ends: Mapping[TopicPartition, int]) -> int:
        return sum((await self.lag_by_group(ends)).values())

    async def lag_by_group(self, ends: Mapping[TopicPartition, int] | None = None) -> dict[str, int]:
        """Messages each consumer group has not committed yet, over the topics it consumes."""
        if ends is None:
            ends = await self._consumer.end_offsets(await self._all_partitions())
        out: dict[str, int] = {}
        for group, topics in self.groups.items():
            try:
                committed = await self._admin.list_consumer_group_offsets(group)
            except KafkaError:
                # No coordinator yet (a fresh broker creates __consumer_offsets on the first group's
                # start): nothing committed is known, so the group counts as wholly behind this time.
                committed = {}
            total = 0
            for tp, end in ends.items():
                if tp.topic in topics:
                    meta = committed.get(tp)
                    done = meta.offset if meta is not None and meta.offset >= 0 else 0
                    total += max(0, end - done)
            out[group] = total
        return out

    async def behind(self) -> str:
        """One line naming what is not settled: the consumer groups behind (with their lag), else the
        outboxes holding unsent rows."""
        lags = {group: lag for group, lag in (await self.lag_by_group()).items() if lag}
        if lags:
            return "consumer group(s) behind: " + ", ".join(f"{g} (lag {n})" for g, n in sorted(lags.items()))
        try:
            unsent = {name: n for name, n in (await self.unsent()).items() if n}
        except Exception as exc:  # a database that cannot be read is itself the answer
            return f"outboxes unreadable: {type(exc).__name__}"
        return "outbox rows unsent: " + ", ".join(f"{n} ({c})" for n, c in sorted(unsent.items()))

    async def unsent(self) -> dict[str, int]:
        """Each service's count of outbox rows not yet sent."""
        out = {}
        for name, db in self.dbs.items():
            async with db.transaction() as session:
                out[name] = int(await session.scalar(text("SELECT count(*) FROM outbox WHERE NOT sent")) or 0)
        return out

    async def settled(self) -> bool:
        """One observation (see the class docstring)."""
        self.polls += 1
        partitions = await self._all_partitions()
        if any(topic not in self._partitions for topic in self.topics):
            return False
        before = await self._consumer.end_offsets(partitions)
        if await self._lag(before):
            return False
        if any((await self.unsent()).values()):
            return False
        after = await self._consumer.end_offsets(partitions)
        return bool(before == after)

    async def wait(
        self,
        timeout: float = 120.0,  # noqa: ASYNC109
        interval: float = 0.05,
        progress: Callable[[float, str], None] | None = None,
        progress_every: float = 5.0,
    ) -> None:
        """Poll until settled; raises TimeoutError naming the consumer groups behind after `timeout` s.

        `progress(seconds_waited, what_is_behind)` is called every `progress_every` seconds of waiting.
        """
        started = time.monotonic()
        deadline = started + timeout
        next_progress = started + progress_every
        while not await self.settled():
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"not settled after {timeout:g}s: {await self.behind()}")
            if progress is not None and now >= next_progress:
                progress(now - started, await self.behind())
                next_progress = now + progress_every
            await asyncio.sleep(interval)


def settle_points(events: Sequence[Mapping[str, Any]]) -> list[bool]:
    """For each event of a replay-style input (in file order), whether to settle after publishing it
    so that the distributed platform decides exactly what replay decides: after every `day.closed`,
    after the last event, and wherever the next event is on another topic (within one topic Kafka
    keeps the file's order for each key; behaviour.md, Time and order)."""
    topics = [EVENT_TYPES[e["type"]].topic for e in events]
    return [t == "clock" or i + 1 == len(topics) or topics[i + 1] != t for i, t in enumerate(topics)]


def settle_timeout() -> float:
    """Seconds a test waits for one settle (COLLECTIONS_SETTLE_TIMEOUT, default 120: loaded machines)."""
    return float(os.environ.get("COLLECTIONS_SETTLE_TIMEOUT", "120"))


OUTBOUND_KEYS = ("ledger", "delinquency", "outreach", "legal", "rejected")


async def read_published(bootstrap: str, config: PlatformConfig, timeout: float = 60.0) -> list[Any]:  # noqa: ASYNC109
    """Every record on the platform's outbound topics, from the beginning up to their current ends.

    The records are aiokafka ConsumerRecords (topic, partition, offset, key, value, headers), in
    topic then partition order. Raises TimeoutError when a topic does not exist within `timeout`.
    """
    from collections_events.testing import consume_all

    records: list[Any] = await consume_all(
        bootstrap, [config.topics.name(key) for key in OUTBOUND_KEYS], timeout=timeout
    )
    return records


def comparable(event: Mapping[str, Any]) -> tuple[str, str, str, str, str, str]:
    """What must match between replay and the distributed run for one published event.

    (id, type, source, subject, time, data as canonical JSON), leaving out `traceparent` (a trace
    exists only where tracing is on) and, for `system.event_rejected`, `data.line` (a replay line
    number; on Kafka there is no line).
    """
    data = dict(event["data"])
    if event["type"] == "system.event_rejected":
        data.pop("line", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (event["id"], event["type"], event["source"], event["subject"], event["time"], canonical)


@dataclass(frozen=True)
class WireReading:
    """What a distributed run put on the wire, read back: each distinct event (structured form) by
    id, how many messages that took, and the ids whose copies were not byte-identical (key, value
    and headers): a republish must be the same message, which every inbox absorbs by id."""

    published: dict[str, dict[str, Any]]
    messages: int
    republished: int
    different_copies: list[str]
    unreadable: list[str]


def read_wire(records: Sequence[Any]) -> WireReading:
    """Group `records` (read_published) by event id (see WireReading)."""
    wire: dict[str, list[Any]] = defaultdict(list)
    published: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    for record in records:
        parsed = decode_record(record)
        if not isinstance(parsed, Event):
            unreadable.append(parsed.reason)
            continue
        wire[parsed.id].append(record)
        published[parsed.id] = parsed.envelope.to_structured()
    copies = {event_id: found for event_id, found in wire.items() if len(found) > 1}
    different = [
        event_id
        for event_id, found in copies.items()
        if any(
            (c.key, c.value, list(c.headers)) != (found[0].key, found[0].value, list(found[0].headers)) for c in found
        )
    ]
    return WireReading(published, len(records), len(copies), different, unreadable)
