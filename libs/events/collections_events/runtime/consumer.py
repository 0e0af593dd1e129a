"""A service's Kafka consumer loop: one transaction per poll, offsets committed off the loop (decision 0007).

Each poll (`getmany`, up to MAX_RECORDS over all assigned partitions) becomes one
`ServiceRuntime.process` call, its deliveries in partition order and, within a partition, in
offset order: per-account order is the partition's order. After the commit: dead letters are sent,
the publisher is woken, and the polled offsets are handed to a committer task, so the loop does not
wait ~10 ms for the broker before the next poll. A rebalance first waits for the in-flight batch
and then for the committer, so the next owner starts right after what this member committed.

A transient database condition (RetryLater) seeks every partition of the poll back and retries
after a backoff (0.2 s doubling to 5 s): no event is rejected or skipped for it.

Test hook: COLLECTIONS_TEST_CRASH_AFTER_COMMIT=<event id> makes the process SIGKILL itself right
after the database commit of the batch holding that event and before its offset commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from collections_events.metrics import get_metrics
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime.kafka_settings import KafkaSettings
from collections_events.runtime.runtime import DeadLetter, Delivery, RetryLater, ServiceRuntime
from collections_events.transport.kafka import (
    dead_letter_headers,
    dead_letter_topic,
    decode_record,
    fetch_until_stopped,
    on_its_topic,
)
from collections_events.validation import Event

log = structlog.get_logger("collections.consumer")

CRASH_HOOK_ENV = "COLLECTIONS_TEST_CRASH_AFTER_COMMIT"
MAX_RECORDS = 2000
LAG_INTERVAL_S = 1.0
Records = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@dataclass(frozen=True)
class KafkaPosition:
    """Where a consumed message sits: topic name, partition, offset (issue 18: no string to parse back).

    `text` is the form printed in logs, stored in a rejection's id and sent in `dlq.position`:
    `kafka:<topic>/<partition>/<offset>`.
    """

    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> KafkaPosition:
        """The position of a consumed record."""
        return cls(record.topic, record.partition, record.offset)

    @property
    def text(self) -> str:
        """`kafka:<topic>/<partition>/<offset>` (the stored and printed form)."""
        return f"kafka:{self.topic}/{self.partition}/{self.offset}"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the in-flight batch finish and its offsets reach the broker before partitions move."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._loop.lock:
            await self._loop.commit_now()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        self._loop.assigned.set()
        self._loop.on_assigned()


class ConsumerLoop:
    """Consume the service's topics until `stop`; see the module docstring."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        kafka: KafkaSettings,
        producer: AIOKafkaProducer,
        stop: asyncio.Event,
        *,
        topics: Sequence[str],
        wake_publisher: Callable[[], None],
    ) -> None:
        self.runtime = runtime
        self.kafka = kafka
        self.producer = producer
        self.stop = stop
        self.topics = list(topics)
        self.wake_publisher = wake_publisher
        self.on_assigned: Callable[[], None] = wake_publisher
        self.assigned = asyncio.Event()
        self.lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self._key_of = {runtime.config.topics.name(k): k for k in TOPIC_KEYS}
        self._crash_after = os.environ.get(CRASH_HOOK_ENV) or None
        self._offsets: dict[TopicPartition, int] = {}
        self._offsets_ready = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._last_lag = 0.0

    @property
    def group(self) -> str:
        """The consumer group (`collections-<service>`)."""
        return f"collections-{self.runtime.name}"

    async def run(self) -> None:
        """Consume until `stop` is set; then commit what was handled and leave the group."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=self.group,
            client_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=self.kafka.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.kafka.session_timeout_ms // 3),
            **self.kafka.options,
        )
        self.consumer = consumer
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        await consumer.start()
        committer = asyncio.create_task(self._committer(), name=f"{self.runtime.name}-offsets")
        backoff = 0.2
        try:
            while not self.stop.is_set():
                polled = await fetch_until_stopped(consumer, self.stop, max_records=MAX_RECORDS)
                if polled is None:
                    break
                await self._report_lag(consumer)
                polled = {tp: records for tp, records in polled.items() if records}
                if not polled:
                    continue
                async with self.lock:
                    ok = await self._handle_poll(consumer, polled)
                if ok:
                    backoff = 0.2
                else:
                    await sleep_or_stop(self.stop, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await committer
            with contextlib.suppress(Exception):
                await self.commit_now()
            await consumer.stop()

    async def _handle_poll(self, consumer: AIOKafkaConsumer, polled: Records) -> bool:
        """One poll in one transaction; False when it must be read again (transient database condition)."""
        # The record behind each delivery, by the delivery's identity (a dead letter carries the
        # delivery object it was made from), with its position as data rather than as a string.
        records_of: dict[int, tuple[KafkaPosition, ConsumerRecord[bytes, bytes]]] = {}
        deliveries: list[Delivery] = []
        for tp in sorted(polled, key=lambda t: (t.topic, t.partition)):
            topic_key = self._key_of.get(tp.topic)
            if topic_key is None:  # not a platform topic (cannot happen with this subscription)
                continue
            for record in polled[tp]:
                position = KafkaPosition.of(record)
                delivery = Delivery(
                    topic=topic_key,
                    parsed=on_its_topic(decode_record(record), topic_key, record.topic),
                    position=position.text,
                    raw_value=record.value,
                    raw_headers=tuple(record.headers),
                    partition=position.partition,
                )
                records_of[id(delivery)] = (position, record)
                deliveries.append(delivery)
        try:
            dead = await self.runtime.process(deliveries)
        except RetryLater as exc:
            log.error("poll not processed; will retry", consumer=self.runtime.name, error=str(exc)[:300])
            for tp, records in polled.items():
                consumer.seek(tp, records[0].offset)
            return False
        self._maybe_crash(deliveries)
        for letter in dead:
            await self._dead_letter(letter, *records_of[id(letter.delivery)])
        self.wake_publisher()
        for tp, records in polled.items():
            self._offsets[tp] = records[-1].offset + 1
        self._offsets_ready.set()
        return True

    async def _committer(self) -> None:
        while True:
            await self._offsets_ready.wait()
            await self.commit_now()

    async def commit_now(self) -> None:
        """Commit the offsets handled so far (one request for every partition); waits for it."""
        async with self._commit_lock:
            self._offsets_ready.clear()
            if not self._offsets or self.consumer is None:
                return
            offsets, self._offsets = self._offsets, {}
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # The partitions moved to another member; it reads from the last commit and the
                # inbox absorbs what this member already handled.
                log.warning("offset commit refused", consumer=self.runtime.name, error=str(exc)[:200])
            except KafkaError as exc:
                # The broker is away: keep the offsets (unless newer ones came) and try again later.
                for tp, offset in offsets.items():
                    self._offsets.setdefault(tp, offset)
                log.warning("offset commit failed; will retry", consumer=self.runtime.name, error=str(exc)[:200])
                await sleep_or_stop(self.stop, 0.5)
                self._offsets_ready.set()

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Consumer lag per assigned partition (highwater minus position), at most once a second."""
        now = time.monotonic()
        if now - self._last_lag < LAG_INTERVAL_S:
            return
        self._last_lag = now
        metrics = get_metrics()
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=1)
            except (KafkaError, TimeoutError, IllegalStateError):
                continue
            metrics.set_consumer_lag(highwater - position, topic=tp.topic, partition=tp.partition, group=self.group)

    def _maybe_crash(self, deliveries: Sequence[Delivery]) -> None:
        if self._crash_after is None:
            return
        for delivery in deliveries:
            parsed = delivery.parsed
            parsed_id = parsed.id if isinstance(parsed, Event) else parsed.event_id
            if parsed_id == self._crash_after:
                log.warning("test hook: killing this process after the database commit", event_id=parsed_id)
                os.kill(os.getpid(), signal.SIGKILL)

    async def _dead_letter(
        self, letter: DeadLetter, position: KafkaPosition, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """Copy the message untouched to `<topic>.dlq`, retrying until Kafka takes it or we stop."""
        headers = dead_letter_headers(
            record.headers, reason=letter.reason, consumer=self.runtime.name, position=position.text
        )
        delay = 0.2
        while True:
            try:
                await self.producer.send_and_wait(
                    dead_letter_topic(position.topic), value=record.value, key=record.key, headers=headers
                )
                log.warning("dead-lettered", consumer=self.runtime.name, position=letter.delivery.position)
                return
            except KafkaError as exc:
                log.error("dead letter not sent; retrying", position=letter.delivery.position, error=str(exc))
                if self.stop.is_set():
                    raise
                await sleep_or_stop(self.stop, delay)
                delay = min(delay * 2, 5.0)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
