"""Running one service: handle deliveries in transactions, publish the outbox (decision 0007).

Delivery handling is the same on every transport: one database transaction per batch (a whole
poll, across its partitions) claims the batch's inbox rows in one statement, prefetches the
batch's snapshots, runs the handler per delivery in order, and writes each table once; the
transport commits its position only after that transaction commits.

A batch that fails is classified (store/errors.py): a transient database condition (deadlock,
serialization failure, lock or statement timeout, full disk, lost connection) raises RetryLater,
and the transport redelivers the same batch after a backoff: nothing is rejected. A permanent
failure is retried one delivery at a time; a delivery whose handler keeps failing is answered with
`system.event_rejected` and dead-lettered, so the events behind it go on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.metrics import PlatformMetrics, get_metrics
from collections_events.runtime.rejection import rejection_envelope
from collections_events.runtime.service import ServiceSpec
from collections_events.store import outbox as outbox_store
from collections_events.store.database import Database
from collections_events.store.errors import Failure, classify
from collections_events.store.inbox import Inbox, inbox_is_empty
from collections_events.store.outbox import OutboxMessage
from collections_events.store.transaction import ConcurrencyError, TransactionState
from collections_events.store.uow import UnitOfWork
from collections_events.telemetry import consumer_span
from collections_events.validation import Event, Rejection

__all__ = ["DeadLetter", "Delivery", "OutboxMessage", "RetryLater", "ServiceRuntime"]

log = structlog.get_logger("collections.runtime")
_RELAY_LOCK_KEY = 7_406_117_301  # an arbitrary, fixed advisory-lock key for "this database's relay"
RETRIES = 3
MAX_COMMITTED_IN_MEMORY = 50_000


class RetryLater(Exception):
    """The batch met a transient database condition: redeliver it after a pause (nothing was committed)."""


def _raise_if_transient(exc: Exception) -> None:
    """Raise RetryLater for a lost optimistic race or a transient database condition (store/errors.py)."""
    if isinstance(exc, ConcurrencyError) or classify(exc) is Failure.TRANSIENT:
        raise RetryLater(f"{type(exc).__name__}: {exc}"[:500]) from exc


@dataclass(frozen=True)
class Delivery:
    """One message handed to a service: where it came from and what validation made of it.

    `position` names the message for ids of unreadable ones (`replay:line:7`, `kafka:t/0/42`);
    `partition` is its Kafka partition (0 on the embedded log); `raw_value`/`raw_headers` keep the
    message untouched for the dead-letter topic.
    """

    topic: str
    parsed: Event | Rejection
    position: str
    line: int | None = None
    raw_value: bytes | None = None
    raw_headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = 0


@dataclass(frozen=True)
class DeadLetter:
    """A message to copy, untouched, to `<topic>.dlq` with `reason` in a header."""

    delivery: Delivery
    reason: str


@dataclass
class _Batch:
    """One transaction's bookkeeping: its inbox, its shared state, and what to count after the commit."""

    session: AsyncSession
    inbox: Inbox
    state: TransactionState
    # (delivery, outcome, event type, seconds) of each delivery, counted once the batch commits.
    outcomes: list[tuple[Delivery, str, str | None, float]] = field(default_factory=list)
    emitted: list[Envelope] = field(default_factory=list)


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
    # four services share one process and nobody scrapes it.
    record_metrics: bool = True
    # True when this process may have committed outbox rows not yet relayed (true at start).
    _outbox_dirty: bool = True
    # Outbox rows this process committed and has not published yet, in seq order, with their
    # envelopes: the publisher sends these without reading them back (decision 0007).
    _committed: list[OutboxMessage] = field(default_factory=list)

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

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Database.held() for this service, its inbox answered from memory when its table starts
        empty (a fresh replay: every claim since is known to this process), and its outbox kept in
        memory when it starts with nothing to send (decision 0009)."""
        async with self.db.held():
            async with self.db.transaction() as session:
                empty = await inbox_is_empty(session, self.spec.tables["inbox"], self.name)
                no_backlog = await outbox_store.first_seq(session, self.spec.tables["outbox"]) is None
            cache = self.db.held_cache
            assert cache is not None
            if empty:
                cache.inbox_handled[self.name] = set()
            if no_backlog and not self._committed:
                cache.outbox_bypass = True
            yield
            if cache.outbox_bypass and self._committed:
                # Rows kept in memory exist nowhere else: committing the hold without them would
                # lose them. Every caller drains before the hold ends, so this is a bug, loudly.
                raise RuntimeError(f"{self.name}: {len(self._committed)} outbox rows unpublished at the end of a hold")

    def unit_of_work(
        self,
        session: AsyncSession,
        cause: Event | None = None,
        line: int | None = None,
        shared: TransactionState | None = None,
    ) -> UnitOfWork:
        """A unit of work on `session` for this service (also used by its API's reads and commands)."""
        return UnitOfWork(
            session,
            service=self.spec.name,
            tables=self.spec.tables,
            config=self.config,
            cause=cause.envelope if cause else None,
            cause_line=line,
            shared=shared,
            span_context=self.span_context,
            metrics=self.metrics,
        )

    # -- consuming ---------------------------------------------------------------------------
    async def process(self, deliveries: Sequence[Delivery]) -> list[DeadLetter]:
        """Handle `deliveries` in order in one transaction; returns what must go to the dead-letter topics.

        Raises RetryLater on a transient database condition (the transport must not move its
        position: the same deliveries come again after a pause).
        """
        if not deliveries:
            return []
        try:
            return await self._process_batch(deliveries)
        except Exception as exc:
            _raise_if_transient(exc)
            log.warning(
                "batch failed; retrying one by one", consumer=self.name, size=len(deliveries), error=type(exc).__name__
            )
        dead: list[DeadLetter] = []
        for delivery in deliveries:
            dead.extend(await self._process_one(delivery))
        return dead

    async def _process_batch(self, deliveries: Sequence[Delivery]) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        async with self.db.transaction() as session:
            batch = self._open(session)
            wanted = [
                d.parsed for d in deliveries if isinstance(d.parsed, Event) and self.spec.wants(d.topic, d.parsed.type)
            ]
            await batch.inbox.claim(e.id for e in wanted)
            await batch.state.prefetch([e.envelope.subject for e in wanted if e.envelope.subject])
            if self.spec.prefetch is not None and wanted:
                await self.spec.prefetch(wanted, self.unit_of_work(session, shared=batch.state))
            for delivery in deliveries:
                await self._handle(batch, delivery, dead)
            await self._close(batch)
        self._after_commit(batch)
        return dead

    async def _process_one(self, delivery: Delivery) -> list[DeadLetter]:
        last_error: Exception | None = None
        for _attempt in range(RETRIES):
            try:
                return await self._process_batch([delivery])
            except Exception as exc:
                _raise_if_transient(exc)
                last_error = exc
        assert last_error is not None
        log.error(
            "handler failed; event dead-lettered",
            consumer=self.name,
            position=delivery.position,
            error=f"{type(last_error).__name__}: {last_error}"[:500],
        )
        return await self._poison(delivery, f"handler failed: {type(last_error).__name__}")

    def _open(self, session: AsyncSession) -> _Batch:
        tables = self.spec.tables
        held = self.db.held_cache
        state = TransactionState(session, tables, committed=held)
        handled = held.inbox_handled.get(self.name) if held is not None else None
        return _Batch(session, Inbox(session, tables["inbox"], self.name, handled), state)

    async def _close(self, batch: _Batch) -> None:
        await batch.state.write()
        await batch.inbox.close()

    def _after_commit(self, batch: _Batch) -> None:
        if self.db.held_cache is not None:
            self.db.held_cache.merge(batch.state)
            handled = self.db.held_cache.inbox_handled.get(self.name)
            if handled is not None:
                handled.update(batch.inbox.inserted)
        if batch.state.written:
            self._committed.extend(batch.state.written)
            self._outbox_dirty = True
            held = self.db.held_cache
            if len(self._committed) > MAX_COMMITTED_IN_MEMORY and not (held is not None and held.outbox_bypass):
                # Nobody is publishing (a bench, a stalled broker): the table has every row anyway.
                self._committed.clear()
        self._count(batch)

    async def _poison(self, delivery: Delivery, reason: str) -> list[DeadLetter]:
        parsed = delivery.parsed
        if isinstance(parsed, Event):
            env = parsed.envelope
            rejection = Rejection(reason=reason, event_id=env.id, type=env.type, subject=env.subject, time=env.time)
        else:
            rejection = parsed
        async with self.db.transaction() as session:
            batch = self._open(session)
            await self._reject(batch, delivery, rejection, force=True)
            await self._close(batch)
        self._after_commit(batch)
        if (metrics := self.metrics) is not None:
            metrics.message_dead_lettered(topic=delivery.topic, reason="handler_failed")
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
        if not await batch.inbox.first_time(parsed.id):
            batch.outcomes.append((delivery, "duplicate", parsed.type, 0.0))
            return
        uow = self.unit_of_work(batch.session, parsed, delivery.line, shared=batch.state)
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
        if not await batch.inbox.first_time(envelope.id):
            # Already answered (a redelivery after a crash before the dead-letter send): the
            # rejection is not published twice, but the message is dead-lettered again, at least once.
            return True
        uow = self.unit_of_work(batch.session, shared=batch.state)
        uow.emit_envelope(envelope)
        batch.emitted.append(envelope)
        await uow.flush()
        log.info("event rejected", consumer=self.name, position=delivery.position, reason=rejection.reason[:300])
        return True

    # -- API commands ------------------------------------------------------------------------
    async def execute(self, event: Event, topic: str) -> list[Envelope]:
        """Handle one event made by this service's own API (an agent's command) in one transaction.

        Returns what the handler emitted (already in the outbox), so the API can answer at once.
        Raises whatever the handler raises; nothing is written then.
        """
        async with self.db.transaction() as session:
            batch = self._open(session)
            if not await batch.inbox.first_time(event.id):
                return []
            uow = self.unit_of_work(session, event, shared=batch.state)
            with consumer_span(self.name, event.type, event.id, event.envelope.traceparent, topic):
                await self.spec.handle(event, uow)
                emitted = uow.emitted
                await uow.flush()
            await self._close(batch)
        batch.emitted.extend(emitted)
        self._after_commit(batch)
        return emitted

    def _count(self, batch: _Batch) -> None:
        """Metrics of a committed batch: outcomes per (topic, partition, type), durations, emitted events."""
        metrics = self.metrics
        if metrics is None:
            return
        group = f"collections-{self.name}"
        consumed: dict[tuple[str, int, str | None, str], int] = {}
        for delivery, outcome, event_type, seconds in batch.outcomes:
            key = (delivery.topic, delivery.partition, event_type, outcome)
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

    # -- publishing --------------------------------------------------------------------------
    async def relay(
        self, publish: Callable[[list[OutboxMessage]], Awaitable[None]], limit: int = 1000, *, force: bool = False
    ) -> int:
        """Publish up to `limit` outbox rows in `seq` order, then delete them; returns how many.

        Rows this process committed are sent from memory when they are the oldest in the table
        (one `min(seq)` probe); otherwise (another replica's rows, a predecessor's, a restart) the
        rows are read from the table. `force` looks at the table even when this process wrote
        nothing since its last empty pass. A crash between publish and delete publishes the rows
        again; consumers' inboxes absorb that. Raises what `publish` raises (the rows stay).
        """
        if not (self._outbox_dirty or force or self._committed):
            return 0
        self._outbox_dirty = False
        held = self.db.held_cache
        if held is not None and held.outbox_bypass:
            # Held and found empty: this process's rows are all there is, in memory (decision 0009).
            messages = self._committed[:limit]
            if messages:
                await publish(messages)
                del self._committed[: len(messages)]
            self._outbox_dirty = bool(self._committed)
            return len(messages)
        outbox = self.spec.tables["outbox"]
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                # One publisher at a time per service database, even with several replicas: two
                # interleaving their sends would break the outbox's order.
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY})
            oldest = await outbox_store.first_seq(session, outbox)
            if oldest is None:
                self._committed.clear()
                if held is not None:
                    held.outbox_bypass = True
                return 0
            if self._committed and self._committed[0].seq == oldest:
                messages = self._committed[:limit]
            else:
                messages = await outbox_store.unsent(session, outbox, limit)
            await publish(messages)
            await outbox_store.prune(session, outbox, [m.seq for m in messages])
        last = messages[-1].seq
        self._committed = [m for m in self._committed if m.seq > last]
        if len(messages) >= limit or self._committed:
            self._outbox_dirty = True
        return len(messages)

    async def outbox_backlog(self) -> int:
        """How many outbox rows wait to be published."""
        return (await self.outbox_state())[0]

    async def outbox_state(self) -> tuple[int, int | None]:
        """How many outbox rows wait, and the oldest one's `seq` (None when none wait)."""
        async with self.db.transaction() as session:
            return await outbox_store.backlog(session, self.spec.tables["outbox"])
