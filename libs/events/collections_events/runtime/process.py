"""One service as its own process on Kafka and PostgreSQL: consumer, outbox relay and API.

The consumer loop follows decision 0003: for each partition's batch, one database transaction
(`ServiceRuntime.process`), then the dead letters are sent, then that partition's offset is
committed. A crash anywhere before the offset commit redelivers the batch; the inbox makes the
redelivery change nothing. The relay publishes the outbox in `seq` order (idempotent producer,
acks=all); a failed send leaves the rows unsent.

Environment of `collections-<service> run` (see `service_main`): DATABASE_URL,
KAFKA_BOOTSTRAP_SERVERS, COLLECTIONS_CONFIG, PORT (8080), HOST (0.0.0.0), LOG_LEVEL,
OTEL_EXPORTER_OTLP_ENDPOINT, KAFKA_PARTITIONS (3, for topics it creates), KAFKA_REPLICATION_FACTOR
(min(3, brokers)), KAFKA_SESSION_TIMEOUT_MS (10000), and KAFKA_SECURITY_PROTOCOL /
KAFKA_SASL_MECHANISM / KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD.

Test hook: COLLECTIONS_TEST_CRASH_AFTER_COMMIT=<event id> makes the process SIGKILL itself right
after the database commit of the batch holding that event and before its offset commit (nothing
is flushed, nothing is cleaned up). Only the crash-recovery tests set it; never set it in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from collections_events.config import ConfigError, PlatformConfig, load_config
from collections_events.metrics import get_metrics, setup_metrics
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime.runtime import DeadLetter, Delivery, OutboxMessage, ServiceRuntime
from collections_events.runtime.service import ServiceSpec
from collections_events.store.database import Database
from collections_events.telemetry import setup_logging, setup_tracing
from collections_events.transport.kafka import (
    dead_letter_headers,
    dead_letter_topic,
    decode_record,
    encode_outbox_row,
    fetch_until_stopped,
    kafka_options_from_env,
    producer_settings,
)
from collections_events.validation import Event

log = structlog.get_logger("collections.process")

CRASH_HOOK_ENV = "COLLECTIONS_TEST_CRASH_AFTER_COMMIT"
RELAY_INTERVAL_S = 0.05
FORCED_RELAY_INTERVAL_S = 5.0

MAX_RECORDS = 500
STOP_GRACE_S = 10.0
_TOPIC_EXISTS = 36


@dataclass
class KafkaSettings:
    """How to reach Kafka and shape the topics this process creates."""

    bootstrap_servers: str
    options: dict[str, Any] = field(default_factory=dict)
    partitions: int = 3
    replication_factor: int | None = None
    session_timeout_ms: int = 10000

    @classmethod
    def from_env(cls, bootstrap_servers: str, env: Mapping[str, str] | None = None) -> KafkaSettings:
        """Settings from the process environment (see the module docstring)."""
        env = os.environ if env is None else env
        replication = env.get("KAFKA_REPLICATION_FACTOR")
        return cls(
            bootstrap_servers=bootstrap_servers,
            options=kafka_options_from_env(env),
            partitions=int(env.get("KAFKA_PARTITIONS", "3")),
            replication_factor=int(replication) if replication else None,
            session_timeout_ms=int(env.get("KAFKA_SESSION_TIMEOUT_MS", "10000")),
        )


async def ensure_topics(settings: KafkaSettings, names: Sequence[str]) -> None:
    """Create the topics in `names` that do not exist yet (a fresh broker works without setup).

    Partitions: `settings.partitions`; replication: the setting, else min(3, brokers). Topics that
    exist are left as they are. Raises KafkaError when the broker refuses for another reason.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **settings.options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(names) - existing)
        if not missing:
            return
        replication = settings.replication_factor
        if replication is None:
            brokers = (await admin.describe_cluster()).get("brokers") or [None]
            replication = min(3, len(brokers))
        response = await admin.create_topics([NewTopic(name, settings.partitions, replication) for name in missing])
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code not in (0, _TOPIC_EXISTS):
                raise KafkaError(f"cannot create topic {name}: error code {code}")
        log.info("topics created", topics=missing, partitions=settings.partitions, replication=replication)
    finally:
        await admin.close()


class _Revocation(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the in-flight batch finish and commit before partitions move to another member."""

    def __init__(self, lock: asyncio.Lock, assigned: asyncio.Event) -> None:
        self._lock = lock
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._lock:
            pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        self._assigned.set()


class ServiceProcess:
    """The running parts of one service: consumer loop, relay loop, API server."""

    def __init__(self, runtime: ServiceRuntime, kafka: KafkaSettings, stop: asyncio.Event) -> None:
        self.runtime = runtime
        self.kafka = kafka
        self.stop = stop
        self.config = runtime.config
        self.assigned = asyncio.Event()
        self._lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._backlog_since: float | None = None
        self._last_forced = 0.0
        self._key_of = {self.config.topics.name(k): k for k in TOPIC_KEYS}
        self._crash_after = os.environ.get(CRASH_HOOK_ENV) or None
        self.producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, **producer_settings(), **kafka.options
        )
        self.consumer: AIOKafkaConsumer | None = None
        self.consumer_done = False

    @property
    def name(self) -> str:
        """The service's name."""
        return self.runtime.name

    def consumed_topics(self) -> list[str]:
        """The Kafka topic names of the service's subscriptions."""
        return sorted({self.config.topics.name(key) for key in self.runtime.spec.topics})

    def all_topics(self) -> list[str]:
        """Every platform topic, and the dead-letter topic of each topic this service consumes."""
        topics = {self.config.topics.name(key) for key in TOPIC_KEYS}
        return sorted(topics | {dead_letter_topic(t) for t in self.consumed_topics()})

    async def kafka_ready(self) -> bool:
        """Readiness: the broker answers a metadata request within 5 s."""
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=5)
        except Exception:
            return False
        return True

    # -- consumer ----------------------------------------------------------------------------
    async def consume(self) -> None:
        """Consume until `stop` is set; each partition batch: process, dead-letter, commit."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=f"collections-{self.name}",
            client_id=f"collections-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            session_timeout_ms=self.kafka.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.kafka.session_timeout_ms // 3),
            **self.kafka.options,
        )
        self.consumer = consumer
        consumer.subscribe(self.consumed_topics(), listener=_Revocation(self._lock, self.assigned))
        await consumer.start()
        backoff = 0.2
        try:
            while not self.stop.is_set():
                batches = await fetch_until_stopped(consumer, self.stop, max_records=MAX_RECORDS)
                if batches is None:
                    break
                await self._report_lag(consumer)
                ok = True
                for tp, records in batches.items():
                    if records:
                        async with self._lock:
                            ok = await self._handle_batch(consumer, tp, records) and ok
                if ok:
                    backoff = 0.2
                else:
                    await _sleep_or_stop(self.stop, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await consumer.stop()

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Consumer lag per assigned partition: the highwater mark minus the next offset to read."""
        metrics = get_metrics()
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=1)
            except (KafkaError, TimeoutError, IllegalStateError):
                continue
            metrics.set_consumer_lag(
                highwater - position, topic=tp.topic, partition=tp.partition, group=f"collections-{self.name}"
            )

    async def _handle_batch(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> bool:
        """One partition's batch; False when it must be fetched again (database unreachable)."""
        topic_key = self._key_of.get(tp.topic)
        if topic_key is None:  # not a platform topic (cannot happen with our subscription)
            return True
        by_position: dict[str, ConsumerRecord[bytes, bytes]] = {}
        deliveries = []
        for record in records:
            position = f"kafka:{record.topic}/{record.partition}/{record.offset}"
            by_position[position] = record
            deliveries.append(
                Delivery(
                    topic=topic_key,
                    parsed=decode_record(record),
                    position=position,
                    raw_value=record.value,
                    raw_headers=tuple(record.headers),
                )
            )
        try:
            dead = await self.runtime.process(deliveries)
        except Exception as exc:
            # A database outage: nothing was committed; read the batch again after a pause.
            log.error("batch not processed; will retry", consumer=self.name, partition=str(tp), error=str(exc)[:300])
            consumer.seek(tp, records[0].offset)
            return False
        self._maybe_crash(deliveries)
        for letter in dead:
            await self._dead_letter(letter, by_position[letter.delivery.position])
        try:
            await consumer.commit({tp: records[-1].offset + 1})
        except (CommitFailedError, IllegalStateError) as exc:
            # The partition moved to another member; it reads from the last commit and the inbox
            # absorbs what this member already handled.
            log.warning("offset commit refused", consumer=self.name, partition=str(tp), error=str(exc)[:200])
        self._kick.set()
        return True

    def _maybe_crash(self, deliveries: Sequence[Delivery]) -> None:
        if self._crash_after is None:
            return
        for delivery in deliveries:
            parsed = delivery.parsed
            parsed_id = parsed.id if isinstance(parsed, Event) else parsed.event_id
            if parsed_id == self._crash_after:
                log.warning("test hook: killing this process after the database commit", event_id=parsed_id)
                os.kill(os.getpid(), signal.SIGKILL)

    async def _dead_letter(self, letter: DeadLetter, record: ConsumerRecord[bytes, bytes]) -> None:
        """Copy the message untouched to `<topic>.dlq`, retrying until Kafka takes it or we stop."""
        headers = dead_letter_headers(
            record.headers, reason=letter.reason, consumer=self.name, position=letter.delivery.position
        )
        delay = 0.2
        while True:
            try:
                await self.producer.send_and_wait(
                    dead_letter_topic(record.topic), value=record.value, key=record.key, headers=headers
                )
                log.warning("dead-lettered", consumer=self.name, position=letter.delivery.position)
                return
            except KafkaError as exc:
                log.error("dead letter not sent; retrying", position=letter.delivery.position, error=str(exc))
                if self.stop.is_set():
                    raise
                await _sleep_or_stop(self.stop, delay)
                delay = min(delay * 2, 5.0)

    # -- relay -------------------------------------------------------------------------------
    async def publish(self, messages: list[OutboxMessage]) -> None:
        """Send `messages` in order (each keyed by its subject) and wait for every acknowledgement.

        Raises the send error: the relay's transaction then rolls back and the rows stay unsent.
        """
        futures = []
        started = time.perf_counter()
        for message in messages:
            wire = encode_outbox_row(message.value, message.traceparent)
            futures.append(
                await self.producer.send(
                    self.config.topics.name(message.topic), value=wire.value, key=wire.key, headers=wire.headers
                )
            )
        await asyncio.gather(*futures)
        seconds = (time.perf_counter() - started) / max(len(messages), 1)
        metrics = get_metrics()
        for message in messages:
            event_type = json.loads(message.value).get("type", "unknown")
            metrics.message_sent(topic=self.config.topics.name(message.topic), event_type=event_type, seconds=seconds)

    async def relay(self) -> None:
        """Publish the outbox every ~50 ms (sooner after a batch) until `stop`, then flush it."""
        delay = RELAY_INTERVAL_S
        while True:
            try:
                # Now and then look at the outbox even when this process wrote nothing: rows another
                # replica (or a crashed predecessor) left unsent are published too.
                force = time.monotonic() - self._last_forced > FORCED_RELAY_INTERVAL_S
                if force:
                    self._last_forced = time.monotonic()
                sent = await self.runtime.relay(self.publish, force=force)
                delay = RELAY_INTERVAL_S
            except Exception as exc:
                log.error("relay failed; rows stay unsent", service=self.name, error=str(exc)[:300])
                sent = 0
                delay = min(max(delay * 2, 0.2), 5.0)
                if self.stop.is_set() and self.consumer_done:
                    return
            self._report_outbox(sent)
            if sent:
                continue
            if self.stop.is_set() and self.consumer_done:
                return
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=delay)

    def _report_outbox(self, sent: int) -> None:
        """Outbox backlog and the age of its oldest row, as the relay sees them.

        The relay drains the outbox in one pass unless a pass is full, so a pass that sent nothing
        means an empty backlog; the age is how long rows have been waiting since the relay first
        found the outbox non-empty (wall clock: this is about the process, not the business).
        """
        now = time.monotonic()
        if sent == 0:
            self._backlog_since = None
            get_metrics().set_outbox(0, 0.0)
            return
        if self._backlog_since is None:
            self._backlog_since = now
        get_metrics().set_outbox(sent, now - self._backlog_since)

    def wake_relay(self) -> None:
        """Make the relay look at the outbox now rather than at its next tick."""
        self._kick.set()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _api_server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        # The process owns SIGTERM/SIGINT (a clean stop of consumer and relay first).
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off"))


async def run_service(
    spec: ServiceSpec,
    *,
    database_url: str,
    bootstrap_servers: str,
    config: PlatformConfig,
    api_host: str = "0.0.0.0",
    api_port: int | None = 8080,
    stop: asyncio.Event | None = None,
    kafka: KafkaSettings | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run `spec` until `stop` is set: migrate, create missing topics, consume, relay, serve the API.

    `api_port=None` runs no API. `ready` (optional) is set once the consumer has its partitions.
    On stop: the in-flight batch finishes and commits, the consumer leaves its group, the outbox is
    flushed, the API stops. Raises what the start fails with (database, broker unreachable).
    """
    stop = stop or asyncio.Event()
    settings = kafka or KafkaSettings(bootstrap_servers=bootstrap_servers)
    runtime = ServiceRuntime(spec, Database(database_url), config, span_context=True)
    await runtime.start()
    proc = ServiceProcess(runtime, settings, stop)
    await ensure_topics(settings, proc.all_topics())
    await proc.producer.start()
    server = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if api_port is not None:
            app = spec.create_api(runtime) if spec.create_api else _default_app(runtime)
            checks = getattr(app.state, "ready_checks", None)
            if checks is not None:  # an app built on collections_events.api.service_app
                checks.append(proc.kafka_ready)
            server = _api_server(app, api_host, api_port)
            tasks.append(asyncio.create_task(server.serve(), name=f"{spec.name}-api"))
        relay_task = asyncio.create_task(proc.relay(), name=f"{spec.name}-relay")
        consume_task = asyncio.create_task(proc.consume(), name=f"{spec.name}-consumer")
        tasks += [relay_task, consume_task]
        watched = list(tasks)
        if ready is not None:
            tasks.append(asyncio.create_task(_signal_ready(proc, ready), name=f"{spec.name}-ready"))
        log.info("service started", service=spec.name, topics=proc.consumed_topics(), api_port=api_port)
        await _until_stop_or_failure(stop, watched)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(consume_task), timeout=STOP_GRACE_S)
        proc.consumer_done = True
        proc.wake_relay()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(relay_task), timeout=STOP_GRACE_S)
        for task in (consume_task, relay_task):
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        for task in tasks:
            if not task.done():
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=STOP_GRACE_S)
        await proc.producer.stop()
        await runtime.db.close()
        log.info("service stopped", service=spec.name)


async def _signal_ready(proc: ServiceProcess, ready: asyncio.Event) -> None:
    await proc.assigned.wait()
    ready.set()


async def _until_stop_or_failure(stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
    waiter = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    for task in done:
        if task is not waiter and not task.cancelled() and task.exception() is not None:
            log.error("service part failed", part=task.get_name(), error=repr(task.exception())[:500])


def _default_app(runtime: ServiceRuntime) -> Any:
    from collections_events.api import service_app

    return service_app(runtime, title=f"collections-{runtime.name}")


# -- the `collections-<service>` command -------------------------------------------------------
def service_main(spec: ServiceSpec, argv: Sequence[str] | None = None) -> None:
    """`collections-<service> migrate|run`: exits 0 after a clean stop, 2 on bad configuration."""
    parser = argparse.ArgumentParser(prog=f"collections-{spec.name}", description=f"The {spec.name} service")
    parser.add_argument("command", choices=["migrate", "run"], help="migrate: run migrations and exit; run: serve")
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("LOG_LEVEL"))
    try:
        config = load_config(os.environ.get("COLLECTIONS_CONFIG") or None)
    except ConfigError as exc:
        print(f"collections-{spec.name}: {exc}", file=sys.stderr)
        sys.exit(2)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print(f"collections-{spec.name}: DATABASE_URL is not set", file=sys.stderr)
        sys.exit(2)
    if args.command == "migrate":
        asyncio.run(_migrate(spec, database_url))
        return
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        print(f"collections-{spec.name}: KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        sys.exit(2)
    setup_tracing(spec.name)
    setup_metrics(spec.name)
    asyncio.run(
        _run_until_signal(
            lambda stop: run_service(
                spec,
                database_url=database_url,
                bootstrap_servers=bootstrap,
                config=config,
                api_host=os.environ.get("HOST", "0.0.0.0"),
                api_port=int(os.environ.get("PORT", "8080")),
                stop=stop,
                kafka=KafkaSettings.from_env(bootstrap),
            )
        )
    )


async def _migrate(spec: ServiceSpec, database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate(spec.migrations)
    finally:
        await db.close()


async def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)
