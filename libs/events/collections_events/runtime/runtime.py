"""Running one service: handle deliveries in transactions, relay the outbox.

Delivery handling is the same on every transport (docs/decisions/0003-consumer-loop.md):
one database transaction per batch holds the inbox rows, the handler's writes and the outbox rows;
the transport commits its position only after that transaction commits. A batch that fails is
retried one delivery at a time; a delivery whose handler keeps failing with a bug (not a database
outage) is answered with `system.event_rejected` and dead-lettered, so the events behind it go on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.metrics import PlatformMetrics, get_metrics
from collections_events.runtime.rejection import rejection_envelope
from collections_events.runtime.service import ServiceSpec
from collections_events.store.database import Database
from collections_events.store.statements import execute
from collections_events.store.uow import ConcurrencyError, UnitOfWork, statement, write_outbox
from collections_events.telemetry import consumer_span
from collections_events.validation import Event, Rejection

log = structlog.get_logger("collections.runtime")
_RELAY_LOCK_KEY = 7_406_117_301  # an arbitrary, fixed advisory-lock key for "this database's relay"
RETRIES = 3


@dataclass(frozen=True)
class Delivery:
    """One message handed to a service: where it came from and what validation made of it.

    `position` names the message for ids of unreadable ones (`replay:line:7`, `kafka:t/0/42`);
    `raw_value`/`raw_headers` keep the message untouched for the dead-letter topic.
    """

    topic: str
    parsed: Event | Rejection
    position: str
    line: int | None = None
    raw_value: bytes | None = None
    raw_headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    """A message to copy, untouched, to `<topic>.dlq` with `reason` in a header."""

    delivery: Delivery
    reason: str


@dataclass(frozen=True)
class OutboxMessage:
    """One outbox row to publish: topic key, Kafka key, structured JSON, traceparent."""

    seq: int
    topic: str
    key: str
    value: str
    traceparent: str | None


@dataclass
class ServiceRuntime:
    """One service bound to its database and configuration."""

    spec: ServiceSpec
    db: Database
    config: PlatformConfig
    # True in a service process (Kafka): emitted events carry the consumer span's traceparent.
    # False in the embedded default, where they copy the cause's, so replays stay byte-identical.
    span_context: bool = False
    # True in a service process: every batch's outcomes, durations and business events are recorded
    # in the process's Prometheus metrics. False in the embedded default (`make run`, replay), whose
    # four services share one process and nobody scrapes it: recording cost ~15% of a `make run`,
    # and its figures are the run's summary and operations page.
    record_metrics: bool = True
    # True when this process may have committed outbox rows not yet relayed (true at start).
    _outbox_dirty: bool = True

    @property
    def metrics(self) -> PlatformMetrics | None:
        """Where this runtime records its metrics: the process's, or None (`record_metrics=False`)."""
        return get_metrics() if self.record_metrics else None

    @property
    def name(self) -> str:
        """The service's name (also its consumer group and inbox key)."""
        return self.spec.name

    async def start(self) -> None:
        """Run the service's migrations (idempotent)."""
        await self.db.migrate(self.spec.migrations)

    def unit_of_work(
        self,
        session: AsyncSession,
        cause: Event | None = None,
        line: int | None = None,
        outbox_buffer: list[dict[str, Any]] | None = None,
    ) -> UnitOfWork:
        """A unit of work on `session` for this service (also used by its API's commands)."""
        return UnitOfWork(
            session,
            service=self.spec.name,
            tables=self.spec.tables,
            config=self.config,
            cause=cause.envelope if cause else None,
            cause_line=line,
            outbox_buffer=outbox_buffer,
            span_context=self.span_context,
            metrics=self.metrics,
        )

    async def process(self, deliveries: Sequence[Delivery]) -> list[DeadLetter]:
        """Handle `deliveries` in order in one transaction; returns what must go to the dead-letter topics.

        Raises the database's error when the database itself fails (the transport must not move
        its position then: the batch is redelivered).
        """
        if not deliveries:
            return []
        dead: list[DeadLetter] = []
        try:
            async with self.db.transaction() as session:
                batch = await _Batch.open(
                    session, self, [d.parsed.id for d in deliveries if isinstance(d.parsed, Event)]
                )
                for delivery in deliveries:
                    await self._handle(batch, delivery, dead)
                await batch.close()
            self._outbox_dirty = self._outbox_dirty or batch.wrote_outbox
            self._count(batch)
            return dead
        except (OperationalError, DBAPIError) as exc:
            if _is_outage(exc):
                raise
        except Exception:
            pass
        log.warning("batch failed; retrying one by one", consumer=self.name, size=len(deliveries))
        dead = []
        for delivery in deliveries:
            dead.extend(await self._process_one(delivery))
        return dead

    async def execute(self, event: Event, topic: str) -> list[Envelope]:
        """Handle one event made by this service's own API (an agent's command) in one transaction.

        Returns what the handler emitted (already in the outbox), so the API can answer at once.
        Raises whatever the handler raises; nothing is written then.
        """
        async with self.db.transaction() as session:
            batch = await _Batch.open(session, self, [event.id])
            if not await batch.first_time(event.id):
                return []
            uow = self.unit_of_work(session, event, outbox_buffer=batch.outbox_rows)
            with consumer_span(self.name, event.type, event.id, event.envelope.traceparent, topic):
                await self.spec.handle(event, uow)
                emitted = uow.emitted
                await uow.flush()
            await batch.close()
        self._outbox_dirty = self._outbox_dirty or batch.wrote_outbox
        if (metrics := self.metrics) is not None:
            for envelope in emitted:
                metrics.event_emitted(envelope.type, envelope.data)
        return emitted

    def _count(self, batch: _Batch) -> None:
        """Metrics of a committed batch: each delivery's outcome and duration, each emitted event."""
        metrics = self.metrics
        if metrics is None:
            return
        group = f"collections-{self.name}"
        # The consumed counter is added once per (topic, partition, type, outcome) of the batch.
        consumed: dict[tuple[str, int, str | None, str], int] = {}
        for delivery, outcome, event_type, seconds in batch.outcomes:
            key = (delivery.topic, _partition_of(delivery.position), event_type, outcome)
            consumed[key] = consumed.get(key, 0) + 1
            if outcome == "rejected":
                metrics.message_dead_lettered(topic=delivery.topic, reason="unreadable")
            if outcome == "processed":
                metrics.message_processed(seconds, topic=delivery.topic, group=group, event_type=event_type)
                if event_type == "day.closed":
                    metrics.day_closed(seconds)
        for (topic, partition, event_type, outcome), count in consumed.items():
            metrics.message_consumed(
                topic=topic, partition=partition, group=group, event_type=event_type, outcome=outcome, count=count
            )
        for envelope in batch.emitted:
            metrics.event_emitted(envelope.type, envelope.data)

    async def _process_one(self, delivery: Delivery) -> list[DeadLetter]:
        last_error: Exception | None = None
        for _attempt in range(RETRIES):
            dead: list[DeadLetter] = []
            try:
                async with self.db.transaction() as session:
                    batch = await _Batch.open(session, self, [])
                    await self._handle(batch, delivery, dead)
                    await batch.close()
                self._outbox_dirty = self._outbox_dirty or batch.wrote_outbox
                self._count(batch)
                return dead
            except ConcurrencyError as exc:
                last_error = exc
            except (OperationalError, DBAPIError) as exc:
                if _is_outage(exc):
                    raise
                last_error = exc
            except Exception as exc:
                last_error = exc
        assert last_error is not None
        log.error(
            "handler failed; event dead-lettered",
            consumer=self.name,
            position=delivery.position,
            error=f"{type(last_error).__name__}: {last_error}"[:500],
        )
        return await self._poison(delivery, f"handler failed: {type(last_error).__name__}")

    async def _poison(self, delivery: Delivery, reason: str) -> list[DeadLetter]:
        parsed = delivery.parsed
        if isinstance(parsed, Event):
            env = parsed.envelope
            rejection = Rejection(reason=reason, event_id=env.id, type=env.type, subject=env.subject, time=env.time)
        else:
            rejection = parsed
        async with self.db.transaction() as session:
            batch = await _Batch.open(session, self, [])
            await self._reject(batch, delivery, rejection, force=True)
            await batch.close()
        self._outbox_dirty = True
        if (metrics := self.metrics) is not None:
            metrics.message_dead_lettered(topic=delivery.topic, reason="handler_failed")
            metrics.event_emitted("system.event_rejected", {"type": rejection.type})
        return [DeadLetter(delivery, reason)]

    async def _handle(self, batch: _Batch, delivery: Delivery, dead: list[DeadLetter]) -> None:
        parsed = delivery.parsed
        started = time.perf_counter()
        if isinstance(parsed, Rejection):
            answered = await self._reject(batch, delivery, parsed, force=False)
            if answered:
                dead.append(DeadLetter(delivery, parsed.reason))
            batch.outcomes.append((delivery, "rejected" if answered else "ignored", parsed.type, 0.0))
            return
        if not self.spec.wants(delivery.topic, parsed.type):
            batch.outcomes.append((delivery, "ignored", parsed.type, 0.0))
            return
        if not await batch.first_time(parsed.id):
            batch.outcomes.append((delivery, "duplicate", parsed.type, 0.0))
            return
        uow = self.unit_of_work(batch.session, parsed, delivery.line, outbox_buffer=batch.outbox_rows)
        with consumer_span(self.name, parsed.type, parsed.id, parsed.envelope.traceparent, delivery.topic):
            structlog.contextvars.bind_contextvars(event_id=parsed.id, consumer=self.name, position=delivery.position)
            try:
                await self.spec.handle(parsed, uow)
                batch.emitted.extend(uow.emitted)
                await uow.flush()
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "consumer", "position")
        batch.outcomes.append((delivery, "processed", parsed.type, time.perf_counter() - started))

    async def _reject(self, batch: _Batch, delivery: Delivery, rejection: Rejection, *, force: bool) -> bool:
        """Publish the rejection once (owner of the topic only, unless forced). True when published."""
        if not force and not self.spec.owns(delivery.topic):
            return False
        envelope = rejection_envelope(
            rejection, source=f"collections/{self.name}", position=delivery.position, line=delivery.line
        )
        if not await batch.first_time(envelope.id):
            # Already answered (a redelivery after a crash before the dead-letter send): the
            # rejection is not published twice, but the message is dead-lettered again, at least once.
            return True
        uow = self.unit_of_work(batch.session, outbox_buffer=batch.outbox_rows)
        uow.emit_envelope(envelope)
        batch.emitted.append(envelope)
        await uow.flush()
        log.info("event rejected", consumer=self.name, position=delivery.position, reason=rejection.reason[:300])
        return True

    async def relay(
        self, publish: Callable[[list[OutboxMessage]], Awaitable[None]], limit: int = 1000, *, force: bool = False
    ) -> int:
        """Publish up to `limit` unsent outbox rows in `seq` order and mark them sent.

        Skips the query when this process has committed no outbox row since the last empty relay,
        unless `force` (rows written by another process: poll with force now and then).
        A crash between publish and mark publishes them again; consumers' inboxes absorb that.
        Returns how many rows were published.
        """
        if not (self._outbox_dirty or force):
            return 0
        # Cleared before reading: a commit that lands during the read sets it again after its commit.
        self._outbox_dirty = False
        outbox = self.spec.tables["outbox"]
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                # One relay at a time per service database, even with several replicas: two relays
                # interleaving their sends would break the outbox's order.
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY})
            rows = (
                await session.execute(
                    select(outbox.c.seq, outbox.c.topic, outbox.c.key, outbox.c.event, outbox.c.traceparent)
                    .where(outbox.c.sent.is_(False))
                    .order_by(outbox.c.seq)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return 0
            await publish([OutboxMessage(r.seq, r.topic, r.key, r.event, r.traceparent) for r in rows])
            await session.execute(update(outbox).where(outbox.c.seq.in_([r.seq for r in rows])).values(sent=True))
        if len(rows) >= limit:
            self._outbox_dirty = True
        return len(rows)

    async def outbox_backlog(self) -> int:
        """How many outbox rows wait to be published."""
        from sqlalchemy import func

        outbox = self.spec.tables["outbox"]
        async with self.db.transaction() as session:
            return int(await session.scalar(select(func.count()).where(outbox.c.sent.is_(False))) or 0)


class _Batch:
    """One transaction's bookkeeping: which event ids are already in the inbox, and the rows to add.

    The inbox is read once per batch (one IN query) and the new inbox and outbox rows are inserted
    together at the end, which is what makes the embedded default fast enough for `make run`.
    """

    def __init__(self, session: AsyncSession, runtime: ServiceRuntime) -> None:
        self.session = session
        self.runtime = runtime
        self.checked: set[str] = set()
        self.seen: set[str] = set()
        self.inbox_rows: list[dict[str, str]] = []
        self.outbox_rows: list[dict[str, Any]] = []
        self.wrote_outbox = False
        # (delivery, outcome, event type, seconds) of each delivery, counted once the batch commits.
        self.outcomes: list[tuple[Delivery, str, str | None, float]] = []
        self.emitted: list[Envelope] = []

    @classmethod
    async def open(cls, session: AsyncSession, runtime: ServiceRuntime, event_ids: list[str]) -> _Batch:
        batch = cls(session, runtime)
        await batch._prefetch(event_ids)
        return batch

    async def _prefetch(self, event_ids: list[str]) -> None:
        inbox = self.runtime.spec.tables["inbox"]
        pending = [i for i in dict.fromkeys(event_ids) if i not in self.checked]
        query = statement(
            inbox,
            "seen",
            lambda t: select(t.c.event_id).where(
                t.c.consumer == bindparam("b_consumer", type_=t.c.consumer.type),
                t.c.event_id.in_(bindparam("b_ids", expanding=True, type_=t.c.event_id.type)),
            ),
        )
        for start in range(0, len(pending), 500):
            chunk = pending[start : start + 500]
            rows = await self.session.execute(query, {"b_consumer": self.runtime.name, "b_ids": chunk})
            self.seen.update(r.event_id for r in rows)
            self.checked.update(chunk)

    async def first_time(self, event_id: str) -> bool:
        """True (and the id recorded) the first time this consumer sees `event_id`."""
        if event_id not in self.checked:
            await self._prefetch([event_id])
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        self.inbox_rows.append({"consumer": self.runtime.name, "event_id": event_id})
        return True

    async def close(self) -> None:
        """Insert the batch's inbox and outbox rows (before the commit)."""
        if self.inbox_rows:
            await execute(self.session, statement(self.runtime.spec.tables["inbox"], "insert", insert), self.inbox_rows)
        if self.outbox_rows:
            await write_outbox(self.session, self.runtime.spec.tables["outbox"], self.outbox_rows)
            self.wrote_outbox = True


def _partition_of(position: str) -> int:
    # `kafka:<topic>/<partition>/<offset>`; the embedded log has one partition.
    if position.startswith("kafka:"):
        try:
            return int(position.rsplit("/", 2)[-2])
        except (ValueError, IndexError):
            return 0
    return 0


def _is_outage(exc: DBAPIError) -> bool:
    # A lost connection or an unreachable server is not the event's fault: never dead-letter for it.
    return bool(getattr(exc, "connection_invalidated", False)) or (
        isinstance(exc, OperationalError) and ("connect" in str(exc).lower() or "closed" in str(exc).lower())
    )
