"""A ledger process stopped with SIGTERM in the middle of a stream loses no event (decision 0003).

The process is a real OS process (`collections-ledger run`) on the real broker and a fresh
PostgreSQL database. A background producer sends 300 accounts x (payment.due, payment.received);
after the first ~100 `ledger.balance_changed` appear, the process gets SIGTERM (what Kubernetes
sends, terminationGracePeriodSeconds 45): it must finish its batch, commit, flush its outbox and
exit 0 well within the grace period. Restarted on the same database while the stream goes on, it
must end with exactly one distinct `ledger.balance_changed` per inbound event (id = derive_id(cause,
"balance")); an id seen twice may only be a byte-identical republish of the same outbox row.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from collections_events.envelope import Envelope
from collections_events.ids import derive_id
from collections_events.testing import (
    Record,
    consume_all,
    make_envelope,
    start_service_process,
    stop_service_process,
    topic_partitions,
    unique_topics_config,
)
from collections_events.transport.kafka import encode_binary, producer_settings

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ACCOUNTS = 300
SIGTERM_AFTER = 100  # balance_changed records on the ledger topic before the SIGTERM
GRACE_LIMIT_S = 30.0  # the manifests give 45 s; a clean stop must be well inside it
PACE_S = 0.02  # between two accounts: the stream lasts ~6 s, so it spans the stop and the restart


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def account_events(i: int) -> tuple[Envelope, Envelope]:
    account = f"acc-sig-{i:03d}"
    due = make_envelope(
        "payment.due",
        {
            "account_id": account,
            "due_id": f"d-{i}",
            "due_date": "2024-01-10",
            "amount_due_minor": 1000,
            "statement_balance_minor": 1000,
        },
        event_id=f"sig-due-{i}",
    )
    paid = make_envelope(
        "payment.received",
        {"account_id": account, "payment_id": f"p-{i}", "amount_minor": 400, "received_on": "2024-01-05"},
        event_id=f"sig-pay-{i}",
    )
    return due, paid


async def produce_stream(bootstrap: str, billing: str, payments: str, sent: list[str]) -> None:
    """Each account's due then its payment, paced, every send acknowledged (acks=all)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings())
    await producer.start()
    try:
        for i in range(ACCOUNTS):
            for topic, envelope in zip((billing, payments), account_events(i), strict=True):
                wire = encode_binary(envelope)
                await (await producer.send(topic, value=wire.value, key=wire.key, headers=wire.headers))
                sent.append(envelope.id)
            await asyncio.sleep(PACE_S)
    finally:
        await producer.stop()


def header(record: Record, name: str) -> bytes | None:
    return next((value for key, value in record.headers if key == name), None)


def balance_ids(records: list[Record]) -> dict[str, list[Record]]:
    """The `ledger.balance_changed` records grouped by event id (binary mode: the ce_id header)."""
    out: dict[str, list[Record]] = {}
    for record in records:
        if header(record, "ce_type") == b"ledger.balance_changed":
            out.setdefault((header(record, "ce_id") or b"").decode(), []).append(record)
    return out


def at_least(n: int) -> Callable[[list[Record]], bool]:
    return lambda records: len(balance_ids(records)) >= n


def log_of(proc: subprocess.Popen[bytes]) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


async def test_sigterm_under_traffic_stops_cleanly_and_loses_no_event(
    kafka_bootstrap: str, create_pg_database: Callable[[str], str], tmp_path: Path
) -> None:
    started_at = time.monotonic()
    config = unique_topics_config()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"topics": config.topics.model_dump()}))
    database_url = create_pg_database("sigterm")

    def env() -> dict[str, str]:
        return {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "COLLECTIONS_CONFIG": str(config_file),
            "PORT": str(free_port()),
            "HOST": "127.0.0.1",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "COLLECTIONS_TEST_LOG_DIR": str(tmp_path),
            "LOG_LEVEL": "INFO",
        }

    topics = config.topics
    expected = {derive_id(envelope.id, "balance") for i in range(ACCOUNTS) for envelope in account_events(i)}
    sent: list[str] = []

    first = start_service_process("ledger", env())
    restarted: subprocess.Popen[bytes] | None = None
    producer: asyncio.Task[None] | None = None
    try:
        # The service creates its topics (3 partitions); produce only once they exist.
        await topic_partitions(kafka_bootstrap, [topics.billing, topics.payments, topics.ledger], timeout=60)
        producer = asyncio.create_task(produce_stream(kafka_bootstrap, topics.billing, topics.payments, sent))

        before = await consume_all(kafka_bootstrap, [topics.ledger], until=at_least(SIGTERM_AFTER), timeout=60)
        sent_at_sigterm = len(sent)
        stop_started = time.monotonic()
        first.terminate()  # SIGTERM; waited for in a thread so the producer keeps going meanwhile
        try:
            status = await asyncio.to_thread(first.wait, GRACE_LIMIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {GRACE_LIMIT_S}s after SIGTERM:\n{log_of(first)}")
        stop_seconds = time.monotonic() - stop_started
        assert status == 0, log_of(first)
        assert not producer.done(), "the SIGTERM must land while the stream is still flowing"

        restarted = start_service_process("ledger", env())
        await producer
        assert len(sent) == 2 * ACCOUNTS

        out = await consume_all(kafka_bootstrap, [topics.ledger], until=at_least(len(expected)), timeout=60)
        restart_stop_started = time.monotonic()
        restart_status = await asyncio.to_thread(stop_service_process, restarted, GRACE_LIMIT_S)
        restart_stop_seconds = time.monotonic() - restart_stop_started
        assert restart_status == 0, log_of(restarted)
    finally:
        if producer is not None and not producer.done():
            producer.cancel()
        stop_service_process(first)
        if restarted is not None:
            stop_service_process(restarted)

    # Everything published, including what the restarted relay may still have flushed on its stop.
    final = await consume_all(kafka_bootstrap, [topics.ledger])
    assert len(final) >= len(out)
    by_id = balance_ids(final)
    assert set(by_id) == expected, (
        f"lost {len(expected - set(by_id))}, unexpected {len(set(by_id) - expected)}",
        log_of(first)[-3000:],
    )
    duplicates = {event_id: recs for event_id, recs in by_id.items() if len(recs) > 1}
    for event_id, recs in duplicates.items():
        wires = {(r.key, r.value, tuple(r.headers)) for r in recs}
        assert len(wires) == 1, f"{event_id} published twice with different bytes"

    print(
        f"\nSIGTERM after {len(balance_ids(before))} balance_changed ({sent_at_sigterm}/{2 * ACCOUNTS} sent);"
        f" first stop {stop_seconds:.2f}s (exit 0); restarted stop {restart_stop_seconds:.2f}s;"
        f" {len(final)} ledger records, {len(by_id)} distinct, {len(duplicates)} republished;"
        f" test body {time.monotonic() - started_at:.1f}s"
    )
    assert stop_seconds < GRACE_LIMIT_S
