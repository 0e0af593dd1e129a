"""One service as its own process on Kafka and PostgreSQL: the entry point (decision 0007).

`run_service` wires the parts, each in its own module: the consumer loop (runtime/consumer.py:
one transaction per poll, offsets committed off the loop), the publisher (runtime/publisher.py:
the outbox sent right after each commit), the API server, and the Kafka settings and topic
creation (runtime/kafka_settings.py). `service_main` is the `collections-<service>` command.

Environment of `collections-<service> run`: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
COLLECTIONS_CONFIG, PORT (8080), HOST (0.0.0.0), LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT,
KAFKA_PARTITIONS (3, for topics it creates), KAFKA_REPLICATION_FACTOR (min(3, brokers)),
KAFKA_SESSION_TIMEOUT_MS (10000), and KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_MECHANISM /
KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD. The crash test hook is described in runtime/consumer.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from collections_events.config import ConfigError, PlatformConfig, load_config
from collections_events.metrics import get_metrics, setup_metrics
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime import startup_logs
from collections_events.runtime.consumer import CRASH_HOOK_ENV, ConsumerLoop
from collections_events.runtime.kafka_settings import KafkaSettings, ensure_topics
from collections_events.runtime.publisher import Publisher
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.runtime.service import ServiceSpec
from collections_events.runtime.startup_logs import hold_back_coordinator_waits
from collections_events.store.database import Database
from collections_events.telemetry import setup_logging, setup_tracing
from collections_events.transport.kafka import dead_letter_topic, producer_settings

__all__ = ["CRASH_HOOK_ENV", "KafkaSettings", "ensure_topics", "run_service", "service_main"]

log = structlog.get_logger("collections.process")
STOP_GRACE_S = 10.0


class ServiceProcess:
    """The running parts of one service: consumer loop, publisher, producer."""

    def __init__(self, runtime: ServiceRuntime, kafka: KafkaSettings, stop: asyncio.Event) -> None:
        self.runtime = runtime
        self.kafka = kafka
        self.stop = stop
        self.config = runtime.config
        self.producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, **producer_settings(), **kafka.options
        )
        self.publisher = Publisher(runtime, self.producer, self.config)
        self.consumer = ConsumerLoop(
            runtime, kafka, self.producer, stop, topics=self.consumed_topics(), wake_publisher=self.publisher.wake
        )
        self.coordinator_wait = hold_back_coordinator_waits()
        self.consumer.on_assigned = self._on_assigned

    def _on_assigned(self) -> None:
        # A new assignment may follow another member's crash: drain the table, not only memory.
        self.publisher.wake(drain=True)
        self.coordinator_wait.started()

    @property
    def name(self) -> str:
        """The service's name."""
        return self.runtime.name

    @property
    def assigned(self) -> asyncio.Event:
        """Set once the consumer has its first partitions."""
        return self.consumer.assigned

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

    async def publisher_ready(self) -> bool:
        """Readiness: the outbox is not stalled behind a send that keeps failing."""
        return not self.publisher.stalled


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
    get_metrics().expect_agencies([a.id for a in config.legal.placement.agencies])
    proc = ServiceProcess(runtime, settings, stop)
    await ensure_topics(settings, proc.all_topics())
    await proc.producer.start()
    server = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if api_port is not None:
            server = _api_server(_service_app(spec, runtime, proc), api_host, api_port)
            tasks.append(asyncio.create_task(server.serve(), name=f"{spec.name}-api"))
        relay_task = asyncio.create_task(proc.publisher.run(stop), name=f"{spec.name}-publisher")
        consume_task = asyncio.create_task(proc.consumer.run(), name=f"{spec.name}-consumer")
        tasks += [relay_task, consume_task]
        watched = list(tasks)
        if ready is not None:
            tasks.append(asyncio.create_task(_signal_ready(proc, ready), name=f"{spec.name}-ready"))
        log.info("service started", service=spec.name, topics=proc.consumed_topics(), api_port=api_port)
        await _until_stop_or_failure(stop, watched)
        stop.set()
        await _finish(proc, consume_task, relay_task)
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        for task in tasks:
            if not task.done():
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=STOP_GRACE_S)
        await proc.producer.stop()
        startup_logs.remove(proc.coordinator_wait)
        await runtime.db.close()
        log.info("service stopped", service=spec.name)


def _service_app(spec: ServiceSpec, runtime: ServiceRuntime, proc: ServiceProcess) -> Any:
    """The service's API, its readiness also requiring Kafka and a publisher that is not stalled."""
    app = spec.create_api(runtime) if spec.create_api else _default_app(runtime)
    checks = getattr(app.state, "ready_checks", None)
    if checks is not None:  # an app built on collections_events.api.service_app
        checks.extend([proc.kafka_ready, proc.publisher_ready])
    return app


async def _finish(proc: ServiceProcess, consume_task: asyncio.Task[None], relay_task: asyncio.Task[None]) -> None:
    """After stop: the in-flight batch commits, then the outbox drains; a loop's failure is raised."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(consume_task), timeout=STOP_GRACE_S)
    proc.publisher.consumer_done = True
    proc.publisher.wake(drain=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(relay_task), timeout=STOP_GRACE_S)
    for task in (consume_task, relay_task):
        error = task.exception() if task.done() and not task.cancelled() else None
        if error is not None:
            raise error


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
