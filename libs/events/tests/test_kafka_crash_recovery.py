"""A ledger process SIGKILLed between its database commit and its offset commit (decision 0003).

The process is a real OS process (`collections-ledger run`) on the real broker and PostgreSQL. The
test hook COLLECTIONS_TEST_CRASH_AFTER_COMMIT makes it kill itself with SIGKILL right after the
database transaction holding the named event commits, before the offset commit. Restarted, it
receives the event again (its offset was never committed) and changes nothing (the inbox).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from collections_events.testing import (
    consume_all,
    make_envelope,
    produce,
    start_service_process,
    stop_service_process,
    unique_topics_config,
)
from collections_events.transport.kafka import decode_record
from collections_events.validation import Event

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
GROUP = "collections-ledger"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def committed(bootstrap: str, tp: TopicPartition) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(GROUP, partitions=[tp])
    finally:
        await admin.close()
    meta = offsets.get(tp)
    return None if meta is None or meta.offset < 0 else int(meta.offset)


async def table_state(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                "events": (
                    await conn.execute(text("SELECT stream_id, version, event_id FROM events ORDER BY 1, 2"))
                ).all(),
                "outbox": (await conn.execute(text("SELECT seq, event FROM outbox ORDER BY seq"))).all(),
                "inbox": (await conn.execute(text("SELECT consumer, event_id FROM inbox ORDER BY 2"))).all(),
            }
    finally:
        await engine.dispose()


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


async def test_a_consumer_killed_after_its_commit_gets_the_event_again_and_changes_nothing(
    kafka_bootstrap: str, pg_url: str, tmp_path: Path
) -> None:
    config = unique_topics_config()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"topics": config.topics.model_dump()}))
    port = free_port()
    env = {
        "DATABASE_URL": pg_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COLLECTIONS_CONFIG": str(config_file),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "COLLECTIONS_TEST_LOG_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
    }
    account = "acc-crash"
    first_due = make_envelope(
        "payment.due",
        {
            "account_id": account,
            "due_id": "d1",
            "due_date": "2024-01-10",
            "amount_due_minor": 1000,
            "statement_balance_minor": 1000,
        },
        event_id="crash-due",
    )
    paid = make_envelope(
        "payment.received",
        {"account_id": account, "payment_id": "p1", "amount_minor": 400, "received_on": "2024-01-05"},
        event_id="crash-payment",
    )

    crashing = start_service_process("ledger", {**env, "COLLECTIONS_TEST_CRASH_AFTER_COMMIT": paid.id})
    try:
        await produce(kafka_bootstrap, config.topics.billing, [first_due])
        await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 1, timeout=60)
        [meta] = await produce(kafka_bootstrap, config.topics.payments, [paid])
        assert crashing.wait(timeout=60) == -signal.SIGKILL, crashing.log_path.read_text()  # type: ignore[attr-defined]
    finally:
        stop_service_process(crashing)

    tp = TopicPartition(config.topics.payments, meta.partition)
    assert (await committed(kafka_bootstrap, tp) or 0) <= meta.offset, "the payment's offset was never committed"
    after_crash = await table_state(pg_url)
    assert ("ledger", paid.id) in after_crash["inbox"], "the database transaction had committed"

    restarted = start_service_process("ledger", env)
    try:

        async def caught_up() -> bool:
            return (await committed(kafka_bootstrap, tp) or 0) >= meta.offset + 1

        await wait_for(caught_up, 60, "the restarted consumer never committed past the payment")
        out = await consume_all(kafka_bootstrap, [config.topics.ledger], until=lambda r: len(r) >= 2, timeout=60)
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/ready")
        assert ready.status_code == 200, ready.text
        started = time.monotonic()
        status = stop_service_process(restarted)
        stop_seconds = time.monotonic() - started
    finally:
        stop_service_process(restarted)
    assert status == 0, restarted.log_path.read_text()  # type: ignore[attr-defined]
    assert stop_seconds < 10

    after_restart = await table_state(pg_url)
    assert after_restart["events"] == after_crash["events"], "the redelivery appended nothing"
    assert any("crash-payment" in row.event for row in after_crash["outbox"]), "the crash left the row unsent"
    assert after_restart["outbox"] == [], "every row was published, then pruned, exactly as committed"
    assert after_restart["inbox"] == after_crash["inbox"]

    published = [decode_record(r) for r in out]
    assert all(isinstance(e, Event) for e in published)
    distinct = {e.id: e for e in published if isinstance(e, Event)}
    assert [e.envelope.data["cause_id"] for e in distinct.values()] == ["crash-due", "crash-payment"]
    assert list(distinct.values())[1].envelope.data["unpaid_dues"][0]["unpaid_minor"] == 600
