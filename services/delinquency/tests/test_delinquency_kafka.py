"""Ledger and delinquency as Kafka services on PostgreSQL: delinquency consumes the ledger's output,
the ledger consumes a settlement completed upstream, and the events are the embedded run's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from collections_delinquency.adapters.spec import SPEC as DELINQUENCY
from collections_delinquency.app.tables import OWN
from collections_events.ids import derive_id
from collections_events.store.database import Database
from collections_events.testing import (
    Record,
    consume_all,
    decode_events,
    make_envelope,
    produce,
    running_service,
    unique_topics_config,
)
from collections_events.validation import Event
from collections_ledger.adapters.spec import SPEC as LEDGER

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
ACCOUNTS = [f"acc-{n}" for n in range(4)]


def due(account: str) -> dict[str, Any]:
    return {
        "account_id": account,
        "due_id": "d1",
        "due_date": "2024-01-10",
        "amount_due_minor": 1000,
        "statement_balance_minor": 1000,
    }


async def _until(check: Callable[[], Any], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.1)


async def test_ledger_feeds_delinquency_over_kafka(
    kafka_bootstrap: str, create_pg_database: Callable[[str], str]
) -> None:
    config = unique_topics_config()
    ledger_url, delinquency_url = create_pg_database("ledger"), create_pg_database("delinquency")
    probe = Database(delinquency_url)

    async def delinquency_holds(n: int, unpaid: int) -> bool:
        t = OWN["accounts"]
        async with probe.transaction() as s:
            count = await s.scalar(select(func.count()).select_from(t))
            with_dues = await s.scalar(select(func.count()).select_from(t).where(t.c.dues != "[]"))
        return count == n and with_dues == unpaid

    def delinquency_events(records: list[Record]) -> list[Event]:
        return [e for e in decode_events(records) if e.type.startswith("delinquency.")]

    kw = {"bootstrap_servers": kafka_bootstrap, "config": config}
    try:
        async with (
            running_service(LEDGER, database_url=ledger_url, **kw),
            running_service(DELINQUENCY, database_url=delinquency_url, **kw),
        ):
            await produce(
                kafka_bootstrap, config.topics.billing, [make_envelope("payment.due", due(a)) for a in ACCOUNTS]
            )
            await _until(lambda: delinquency_holds(4, 4))  # the ledger's balance changes reached delinquency
            close = make_envelope("day.closed", {"as_of": "2024-01-11"}, event_id="close-11")
            await produce(kafka_bootstrap, config.topics.clock, [close])
            out = await consume_all(
                kafka_bootstrap, [config.topics.delinquency], until=lambda r: len(delinquency_events(r)) >= 4
            )
            first = {e.envelope.subject: e for e in delinquency_events(out)}
            assert set(first) == set(ACCOUNTS)
            for account, event in first.items():
                assert event.id == derive_id("close-11", f"bucket:{account}")
                assert event.envelope.time == close.time
                assert (event.envelope.data["to_bucket"], event.envelope.data["dpd"]) == ("1-29", 1)

            # acc-0 pays; acc-1 completes a settlement made on 12 January (the ledger consumes outreach's
            # output): both cure at once, as of the last close
            pay = {"account_id": "acc-0", "payment_id": "p", "amount_minor": 1000, "received_on": "2024-01-12"}
            await produce(kafka_bootstrap, config.topics.payments, [make_envelope("payment.received", pay)])
            done = {
                "arrangement_id": "arr-1",
                "account_id": "acc-1",
                "kind": "settlement",
                "made_on": "2024-01-12",
                "paid_minor": 600,
            }
            completed = make_envelope("outreach.arrangement_completed", done, source="collections/outreach")
            await produce(kafka_bootstrap, config.topics.outreach, [completed])
            out = await consume_all(
                kafka_bootstrap, [config.topics.delinquency], until=lambda r: len(delinquency_events(r)) >= 6
            )
            cures = {e.envelope.subject: e.envelope.data for e in delinquency_events(out)[4:]}
            assert {a: (d["to_bucket"], d["as_of"]) for a, d in cures.items()} == {
                "acc-0": ("current", "2024-01-11"),
                "acc-1": ("current", "2024-01-11"),
            }
            ledger_out = decode_events(await consume_all(kafka_bootstrap, [config.topics.ledger]))
            waivers = [e.envelope.data for e in ledger_out if e.type == "ledger.waiver_posted"]
            assert [(w["account_id"], w["amount_minor"]) for w in waivers] == [("acc-1", 1000)]
    finally:
        await probe.close()
