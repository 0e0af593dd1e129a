"""The embedded default transport: one in-process, ordered log, drained deterministically.

`collections replay` and `make run` use it (contract.md, Replay): after each input event every
service runs until nothing is left to process. Services run in a fixed order and read the log in
its own order, so the same input always gives the same output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import Delivery, OutboxMessage, RetryLater, ServiceRuntime
from collections_events.validation import Event, read_json

BATCH = 500


@dataclass(frozen=True)
class LogRecord:
    """One record of the embedded log: its position, topic key and event."""

    seq: int
    topic: str
    event: Event
    line: int | None = None


class EmbeddedLog:
    """An append-only, in-memory log of valid events with one read position per consumer."""

    def __init__(self) -> None:
        # The records every consumer has not read yet: records[0] has seq `_first` (earlier ones
        # are dropped by `compact`, so a replay's memory does not grow with its output).
        self.records: list[LogRecord] = []
        self._first = 0
        self._next = 0
        self._positions: dict[str, int] = {}

    def append(self, topic: str, event: Event, line: int | None = None) -> None:
        """Append `event` on `topic` (a topic key); `line` is its replay input line, if any."""
        self.records.append(LogRecord(self._next, topic, event, line))
        self._next += 1

    def compact(self, consumers: Sequence[str], *, keep_at_least: int = 4096) -> None:
        """Drop the records every one of `consumers` has read (only when at least `keep_at_least`
        can go at once, so the list is not shifted for every record)."""
        low = min((self._positions.get(c, self._first) for c in consumers), default=self._first)
        if low - self._first >= keep_at_least:
            del self.records[: low - self._first]
            self._first = low

    def pending(
        self,
        consumer: str,
        topics: Sequence[str] | Mapping[str, frozenset[str] | None],
        limit: int = BATCH,
    ) -> list[LogRecord]:
        """Up to `limit` records on `topics` after `consumer`'s position, in log order.

        `topics` is either topic keys (every type on them) or a mapping of topic key to the event
        types wanted there (None: every type); records of other types are skipped, and the position
        moves past them with the next commit or empty read.
        """
        start = self._positions.get(consumer, self._first) - self._first
        wanted: Mapping[str, frozenset[str] | None] = topics if isinstance(topics, Mapping) else dict.fromkeys(topics)
        out: list[LogRecord] = []
        for record in self.records[start:]:
            if record.topic in wanted:
                types = wanted[record.topic]
                if types is not None and record.event.type not in types:
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
        if not out:
            self._positions[consumer] = self._next
        return out

    def commit(self, consumer: str, record: LogRecord) -> None:
        """Move `consumer`'s position past `record` (called after the handler's commit)."""
        self._positions[consumer] = record.seq + 1


class EmbeddedPlatform:
    """Every service in one process on one embedded log.

    `on_publish` sees each event a service publishes, in publishing order (replay's output);
    `on_structured`, when given, gets its structured-mode JSON too, as the outbox row holds it
    (store/outbox.encode_envelope), so that a writer need not encode it again.
    """

    def __init__(
        self,
        runtimes: Sequence[ServiceRuntime],
        on_publish: Callable[[Envelope], None],
        on_structured: Callable[[str], None] | None = None,
    ) -> None:
        self.runtimes = list(runtimes)
        self.log = EmbeddedLog()
        self._on_publish = on_publish
        self._on_structured = on_structured
        # What each service's handler wants (ServiceSpec.wants): the log hands it nothing else, so
        # an ignored event costs no delivery (the runtime would only count it as "ignored").
        self._wanted: dict[str, dict[str, frozenset[str] | None]] = {}

    async def start(self) -> None:
        """Migrate every service's database."""
        for runtime in self.runtimes:
            await runtime.start()

    def feed(self, topic: str, event: Event, line: int | None = None) -> None:
        """Put one valid inbound event on the log (its topic key from the registry)."""
        self.log.append(topic, event, line)

    async def drain(self) -> None:
        """Run every service until nothing is left to process and every outbox is empty."""
        progressed = True
        while progressed:
            progressed = False
            for runtime in self.runtimes:
                if await self._run_consumer(runtime):
                    progressed = True
                if await self._relay(runtime):
                    progressed = True
        self.log.compact([runtime.name for runtime in self.runtimes])

    async def _run_consumer(self, runtime: ServiceRuntime) -> bool:
        handled = False
        while True:
            wanted = self._wanted.get(runtime.name)
            if wanted is None:
                wanted = self._wanted[runtime.name] = _wanted_types(runtime)
            records = self.log.pending(runtime.name, wanted)
            if not records:
                return handled
            deliveries = [Delivery(r.topic, r.event, position=f"log:{r.seq}", line=r.line) for r in records]
            await _process_retrying(runtime, deliveries)
            self.log.commit(runtime.name, records[-1])
            handled = True

    async def _relay(self, runtime: ServiceRuntime) -> bool:
        relayed = False
        while await runtime.relay(self._publish):
            relayed = True
        return relayed

    async def _publish(self, messages: list[OutboxMessage]) -> None:
        for message in messages:
            # Rows committed by this process carry their envelope; only rows read back are parsed.
            parsed = _as_event(message.envelope) if message.envelope is not None else read_json(message.value)
            if not isinstance(parsed, Event):
                raise RuntimeError(f"outbox row {message.seq} is not a valid event: {parsed.reason}")
            self._on_publish(parsed.envelope)
            if self._on_structured is not None:
                self._on_structured(message.value)
            self.log.append(message.topic, parsed)


def _wanted_types(runtime: ServiceRuntime) -> dict[str, frozenset[str] | None]:
    """Topic key -> event types `runtime`'s subscriptions want there (None: every type)."""
    wanted: dict[str, frozenset[str] | None] = {}
    for sub in runtime.spec.subscriptions:
        if sub.topic in wanted and wanted[sub.topic] is None:
            continue
        if sub.types is None:
            wanted[sub.topic] = None
        else:
            wanted[sub.topic] = (wanted.get(sub.topic) or frozenset()) | sub.types
    return wanted


def _as_event(envelope: Envelope) -> Event:
    """An emitted envelope as the event its consumers get (its data as the contract's typed model)."""
    return Event(envelope, EVENT_TYPES[envelope.type].model.model_validate(envelope.data))


async def _process_retrying(runtime: ServiceRuntime, deliveries: list[Delivery]) -> None:
    """`runtime.process`, retried with backoff while SQLite is busy (an API write holding the lock)."""
    delay = 0.01
    for _attempt in range(60):
        try:
            await runtime.process(deliveries)
            return
        except RetryLater:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
    await runtime.process(deliveries)
