"""Helpers for tests against the real broker and database (never mocks).

- `unique_topics_config()`: a configuration whose topics carry a unique suffix, so tests sharing one
  broker never see each other's messages.
- `running_service(spec, ...)`: a service's consumer, relay (and optionally API) in this process.
- `start_service_process(name, env)`: `collections-<name> run` as its own OS process.
- `produce(...)` / `consume_all(...)`: publish envelopes in binary mode; read topics from the start.
- `served(app)`: an ASGI app on uvicorn at 127.0.0.1 on a free port in this event loop (for a browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from collections_events.config import PlatformConfig, TopicsConfig
from collections_events.envelope import Envelope
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime.process import KafkaSettings, run_service
from collections_events.runtime.service import ServiceSpec
from collections_events.transport.kafka import decode_record, encode_binary, producer_settings
from collections_events.validation import Event, read_structured

Record: TypeAlias = ConsumerRecord  # aiokafka's record: topic, partition, offset, key, value, headers


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served(app: Any, start_timeout: float = 10.0) -> AsyncIterator[str]:
    """`app` served by uvicorn at 127.0.0.1:<a free port> in this event loop; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn not started after {start_timeout}s")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def unique_topics_config(base: PlatformConfig | None = None, suffix: str | None = None) -> PlatformConfig:
    """`base` (defaults) with every topic renamed `<default>.<suffix>` (a fresh random suffix)."""
    base = base or PlatformConfig()
    suffix = suffix or uuid.uuid4().hex[:10]
    topics = TopicsConfig(**{key: f"{base.topics.name(key)}.{suffix}" for key in TOPIC_KEYS})
    return base.model_copy(update={"topics": topics})


@contextlib.asynccontextmanager
async def running_service(
    spec: ServiceSpec,
    *,
    database_url: str,
    bootstrap_servers: str,
    config: PlatformConfig,
    api_port: int | None = None,
    partitions: int = 3,
    ready_timeout: float = 30.0,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `spec` in a background task until the block ends (then stop it cleanly).

    Waits until the consumer has its partitions. Raises the service's own error if it fails, and
    TimeoutError when it is not ready within `ready_timeout` seconds.
    """
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_service(
            spec,
            database_url=database_url,
            bootstrap_servers=bootstrap_servers,
            config=config,
            api_host="127.0.0.1",
            api_port=api_port,
            stop=stop,
            ready=ready,
            kafka=KafkaSettings(bootstrap_servers, partitions=partitions, session_timeout_ms=6000),
        ),
        name=f"test-{spec.name}",
    )
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()  # raises what the service failed with
        raise RuntimeError(f"{spec.name} stopped before it was ready")
    if not done:
        stop.set()
        task.cancel()
        raise TimeoutError(f"{spec.name} not ready after {ready_timeout}s")
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def service_command(service_name: str) -> list[str]:
    """The command line of `collections-<service> run` from this environment's scripts."""
    script = Path(sys.executable).parent / f"collections-{service_name}"
    if script.exists():
        return [str(script), "run"]
    return ["uv", "run", f"collections-{service_name}", "run"]


def start_service_process(service_name: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `collections-<service> run` as its own OS process with `env` over os.environ.

    Its output goes to a log file beside the caller's temporary files (`proc.args`, `proc.log_path`).
    """
    full_env = {**os.environ, **env}
    log_path = Path(full_env.get("COLLECTIONS_TEST_LOG_DIR", "/tmp")) / f"{service_name}-{uuid.uuid4().hex[:8]}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(service_command(service_name), env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    proc.log_path = log_path  # type: ignore[attr-defined]
    log_file.close()
    return proc


def stop_service_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM `proc` and wait for it; kill it after `timeout` seconds. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


async def produce(bootstrap: str, topic: str, envelopes: Iterable[Envelope]) -> list[Any]:
    """Publish `envelopes` to `topic` in binary mode, keyed by subject, in order; returns the metadata."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings())
    await producer.start()
    try:
        futures = []
        for envelope in envelopes:
            wire = encode_binary(envelope)
            futures.append(await producer.send(topic, value=wire.value, key=wire.key, headers=wire.headers))
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def produce_raw(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]
) -> list[Any]:
    """Publish raw `(key, value, headers)` messages to `topic` in order; returns the metadata."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings())
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers) for key, value, headers in messages
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def consume_all(
    bootstrap: str,
    topics: Sequence[str],
    until: Callable[[list[Record]], bool] | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[Record]:
    """Every record of `topics` from the beginning, in the order read, without a consumer group.

    Reads until `until(records)` is true (or, without `until`, until the topics' current ends).
    Raises TimeoutError, with what was read, when `until` is not met within `timeout` seconds.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = await topic_partitions(bootstrap, topics, timeout)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions) if until is None else {}
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and until(records):
                return records
            if until is None and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met after {timeout}s; read {len(records)} records")
            batches = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batches, key=lambda t: (t.topic, t.partition)):
                records.extend(batches[tp])
    finally:
        await consumer.stop()


async def topic_partitions(
    bootstrap: str,
    topics: Sequence[str],
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[TopicPartition]:
    """The partitions of `topics`, waiting up to `timeout` s for topics not created yet.

    Raises TimeoutError naming the topics still missing.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            described = await admin.describe_topics(list(topics))
            found = {t["topic"]: t for t in described if t["error_code"] == 0 and t["partitions"]}
            missing = [t for t in topics if t not in found]
            if not missing:
                return [
                    TopicPartition(t, p["partition"])
                    for t in topics
                    for p in sorted(found[t]["partitions"], key=lambda p: p["partition"])
                ]
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics do not exist: {', '.join(missing)}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def make_envelope(
    type_name: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    time: str = "2024-01-01T00:00:00Z",
    source: str = "test",
    subject: str | None = None,
) -> Envelope:
    """An inbound envelope for a test: subject = data's account_id (or `clock`), a fresh id if none."""
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=type_name,
        subject=subject or data.get("account_id") or "clock",
        time=time,
        data=data,
    )


def make_event(type_name: str, data: dict[str, Any], *, event_id: str, time: str = "2024-01-01T00:00:00Z") -> Event:
    """`make_envelope`, validated as a consumer would read it. Raises AssertionError if it is invalid."""
    parsed = read_structured(make_envelope(type_name, data, event_id=event_id, time=time).to_structured())
    assert isinstance(parsed, Event), parsed
    return parsed


def account_opened_data(account_id: str, **overrides: Any) -> dict[str, Any]:
    """Valid `account.opened` data for a test: a loan in Shanghai, one mobile phone, no email, every
    consent given; `overrides` replace whole keys (`timezone=`, `contacts=`, `opened_on=` ...)."""
    data: dict[str, Any] = {
        "account_id": account_id,
        "customer_id": f"C-{account_id}",
        "product": "loan",
        "currency": "CNY",
        "opened_on": "2025-12-01",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
        "contacts": {"phones": [{"number": "+8613800000000", "kind": "mobile"}], "emails": []},
        "consents": {"sms": True, "email": True, "push": True, "autodialed_calls": True},
    }
    data.update(overrides)
    return data


def decode_events(records: Iterable[Record]) -> list[Event]:
    """Each Kafka record as the platform reads it. Raises AssertionError naming the first record
    that is not a valid event (a test's topics hold only the platform's own output)."""
    out = []
    for record in records:
        parsed = decode_record(record)
        assert isinstance(parsed, Event), parsed
        out.append(parsed)
    return out


def import_file(path: Path, name: str) -> ModuleType:
    """Import the Python file at `path` as module `name` (scripts under deploy/, which are not
    packages: the manifest checks, the dashboard builder). Raises ImportError when it cannot load."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def run_migration(db: Any, script_location: Path, action: str, revision: str) -> None:
    """`alembic upgrade|downgrade REVISION` of the migrations at `script_location` on `db` (a
    store.database.Database): what a migration test steps through, revision by revision."""
    from alembic import command
    from alembic.config import Config

    def run(connection: Any) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(script_location))
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
