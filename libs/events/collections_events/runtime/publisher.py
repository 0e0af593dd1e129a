"""A service's one publisher: sends the outbox to Kafka right after each commit (decision 0007).

The consumer loop (and an API command) wakes it after a commit; it then sends, in `seq` order,
the rows this process just committed from memory, or reads the table when older rows wait (a
restart, another replica's rows, a failed send). It drains the table on start and on every
partition assignment, and looks at it every few seconds even when woken by nobody.

It also measures the outbox for real, once a second: rows waiting (a count of the table, which
holds only unsent rows) and the age of the oldest (how long its `seq` has been the oldest). A
send that keeps failing for STALL_AFTER_S with rows waiting marks the publisher stalled: `/ready`
answers 503 and the OutboxStalled alert fires on the age.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import structlog
from aiokafka import AIOKafkaProducer

from collections_events.config import PlatformConfig
from collections_events.metrics import get_metrics
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.outbox import OutboxMessage
from collections_events.transport.kafka import encode_binary, encode_outbox_row

log = structlog.get_logger("collections.publisher")

RELAY_INTERVAL_S = 0.05
FORCED_RELAY_INTERVAL_S = 5.0
MEASURE_INTERVAL_S = 1.0
STALL_AFTER_S = 30.0


class Publisher:
    """Publishes one service's outbox; see the module docstring."""

    def __init__(self, runtime: ServiceRuntime, producer: AIOKafkaProducer, config: PlatformConfig) -> None:
        self.runtime = runtime
        self.producer = producer
        self.config = config
        self.consumer_done = False
        self._kick = asyncio.Event()
        self._force = True
        self._last_forced = 0.0
        self._last_measured = 0.0
        self._oldest: tuple[int | None, float] = (None, 0.0)  # (oldest seq, when first seen as oldest)
        self._failing_since: float | None = None
        self.backlog = 0

    def wake(self, *, drain: bool = False) -> None:
        """Look at the outbox now (`drain`: read the table, not only this process's rows)."""
        self._force = self._force or drain
        self._kick.set()

    @property
    def stalled(self) -> bool:
        """True when sends have failed for STALL_AFTER_S while rows wait (readiness fails)."""
        return (
            self._failing_since is not None
            and time.monotonic() - self._failing_since > STALL_AFTER_S
            and self.backlog > 0
        )

    async def publish(self, messages: list[OutboxMessage]) -> None:
        """Send `messages` in order (each keyed by its subject) and wait for every acknowledgement.

        Raises the send error: the rows then stay in the outbox and are sent again.
        """
        futures = []
        started = time.perf_counter()
        sent: Counter[tuple[str, str]] = Counter()
        for message in messages:
            if message.envelope is not None:
                wire = encode_binary(message.envelope, message.traceparent)
                event_type = message.envelope.type
            else:
                wire = encode_outbox_row(message.value, message.traceparent)
                event_type = dict(wire.headers).get("ce_type", b"unknown").decode("utf-8", "replace")
            topic = self.config.topics.name(message.topic)
            futures.append(await self.producer.send(topic, value=wire.value, key=wire.key, headers=wire.headers))
            sent[(topic, event_type)] += 1
        await asyncio.gather(*futures)
        seconds = (time.perf_counter() - started) / max(len(messages), 1)
        metrics = get_metrics()
        for (topic, event_type), count in sent.items():
            metrics.message_sent(topic=topic, event_type=event_type, seconds=seconds, count=count)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set and the consumer is done, then flush what is left."""
        delay = RELAY_INTERVAL_S
        while True:
            now = time.monotonic()
            force = self._force or now - self._last_forced > FORCED_RELAY_INTERVAL_S
            if force:
                self._last_forced, self._force = now, False
            try:
                sent = await self.runtime.relay(self.publish, force=force)
                self._failing_since = None
                delay = RELAY_INTERVAL_S
            except Exception as exc:
                log.error("publish failed; rows stay in the outbox", service=self.runtime.name, error=str(exc)[:300])
                sent = 0
                self._failing_since = self._failing_since or time.monotonic()
                self._force = True
                delay = min(max(delay * 2, 0.2), 5.0)
                if stop.is_set() and self.consumer_done:
                    return
            await self._measure()
            if sent:
                continue
            if stop.is_set() and self.consumer_done:
                return
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=delay)

    async def _measure(self) -> None:
        """Backlog and oldest-row age from the table itself, at most once a second."""
        now = time.monotonic()
        if now - self._last_measured < MEASURE_INTERVAL_S:
            return
        self._last_measured = now
        try:
            count, oldest = await self.runtime.outbox_state()
        except Exception:
            return  # the database is away; the consumer and readiness say so
        seq, since = self._oldest
        if oldest != seq:
            self._oldest = (oldest, now)
            since = now
        self.backlog = count
        get_metrics().set_outbox(count, 0.0 if oldest is None else now - since)
