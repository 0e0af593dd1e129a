"""The store's contract, run on every backend (decision 0002): one suite, one subclass per database.

- two concurrent appends to one stream: one wins, the other gets ConcurrencyError;
- the relay publishes the outbox in commit order, even when transactions overlap;
- the inbox turns a redelivery into no change.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.runtime.runtime import Delivery, OutboxMessage, ServiceRuntime
from collections_events.store.database import Database
from collections_events.store.uow import ConcurrencyError
from collections_events.testing import make_envelope
from collections_events.validation import Event, read_structured
from collections_ledger.adapters.spec import SPEC


def as_event(envelope: Envelope) -> Event:
    parsed = read_structured(envelope.to_structured())
    assert isinstance(parsed, Event), parsed
    return parsed


def cause(account: str) -> Event:
    data = {"account_id": account, "payment_id": f"p-{account}", "amount_minor": 1, "received_on": "2024-01-01"}
    return as_event(make_envelope("payment.received", data))


def outbound(n: int, subject: str) -> Envelope:
    return Envelope(
        id=f"out-{n}",
        source="collections/test",
        type="ledger.balance_changed",
        subject=subject,
        time="2024-01-01T00:00:00Z",
        data={"account_id": subject, "unpaid_dues": [], "credit_minor": n, "cause_id": f"c{n}"},
    )


async def relay_all(runtime: ServiceRuntime, publish: Any) -> int:
    """One relay pass over the whole outbox, also over rows written around the runtime (as here)."""
    return await runtime.relay(publish, force=True)


async def snapshot(runtime: ServiceRuntime) -> dict[str, list[Any]]:
    out = {}
    async with runtime.db.transaction() as session:
        for name, table in runtime.spec.tables.items():
            out[name] = [tuple(r) for r in (await session.execute(select(table).order_by(*table.primary_key))).all()]
    return out


class StoreContract:
    """The contract; a subclass provides `url` for its backend."""

    @pytest.fixture
    async def runtime(self, url: str) -> AsyncIterator[ServiceRuntime]:
        runtime = ServiceRuntime(SPEC, Database(url), PlatformConfig())
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.db.close()

    async def test_two_concurrent_appends_to_one_stream_one_wins_one_conflicts(self, runtime: ServiceRuntime) -> None:
        both_read = asyncio.Barrier(2)

        async def writer(n: int) -> str:
            try:
                async with runtime.db.transaction() as session:
                    uow = runtime.unit_of_work(session)
                    version = await uow.stream_version("acc-race")
                    await both_read.wait()
                    await uow.append("acc-race", version, [outbound(n, "acc-race")])
                return "won"
            except ConcurrencyError:
                return "conflict"

        results = await asyncio.gather(writer(1), writer(2))
        assert sorted(results) == ["conflict", "won"]
        async with runtime.db.transaction() as session:
            stored = await runtime.unit_of_work(session).read_stream("acc-race")
        assert [e.version for e in stored] == [1]

    async def test_an_outbox_writer_waits_for_the_earlier_one_to_commit(self, runtime: ServiceRuntime) -> None:
        """Without this, the later writer could commit first and a relay reading by seq would skip it."""
        published: list[str] = []

        async def publish(messages: list[OutboxMessage]) -> None:
            published.extend(json.loads(m.value)["id"] for m in messages)

        first_flushed = asyncio.Event()
        first_committing = asyncio.Event()
        second_flushed_while_first_open: list[bool] = []

        async def first() -> None:
            async with runtime.db.transaction() as session:
                uow = runtime.unit_of_work(session, cause("a"))
                uow.emit_envelope(outbound(1, "acc-1"))
                await uow.flush()
                first_flushed.set()
                await asyncio.sleep(0.5)  # the later transaction tries to write meanwhile
                first_committing.set()

        async def second() -> None:
            await first_flushed.wait()
            async with runtime.db.transaction() as session:
                uow = runtime.unit_of_work(session, cause("b"))
                uow.emit_envelope(outbound(2, "acc-2"))
                await uow.flush()
                second_flushed_while_first_open.append(not first_committing.is_set())

        async def relay_meanwhile() -> None:
            while not (first_committing.is_set() and second_flushed_while_first_open):
                await relay_all(runtime, publish)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            while await relay_all(runtime, publish):
                pass

        await asyncio.gather(first(), second(), relay_meanwhile())
        assert second_flushed_while_first_open == [False], "the later writer waited for the earlier commit"
        assert published == ["out-1", "out-2"]

    async def test_the_relay_publishes_in_commit_order_under_load(self, runtime: ServiceRuntime) -> None:
        published: list[int] = []
        committed: list[str] = []
        rng = random.Random(7)

        async def publish(messages: list[OutboxMessage]) -> None:
            published.extend(m.seq for m in messages)

        async def writer(n: int) -> None:
            await asyncio.sleep(rng.random() * 0.05)
            async with runtime.db.transaction() as session:
                uow = runtime.unit_of_work(session, cause(f"w{n}"))
                uow.emit_envelope(outbound(n, f"acc-{n}"))
                await uow.flush()
                await asyncio.sleep(rng.random() * 0.02)
            committed.append(f"out-{n}")

        async def relay() -> None:
            while len(committed) < 20:
                await relay_all(runtime, publish)
                await asyncio.sleep(0.005)
            while await relay_all(runtime, publish):
                pass

        await asyncio.gather(relay(), *(writer(n) for n in range(20)))
        # A relay tailing by seq while writers overlap: had a later seq committed before an earlier
        # one, some pass would have published it first and the earlier one after.
        assert published == sorted(published) and len(set(published)) == 20
        assert await runtime.outbox_backlog() == 0

    async def test_a_failed_publish_leaves_the_rows_unsent(self, runtime: ServiceRuntime) -> None:
        async with runtime.db.transaction() as session:
            uow = runtime.unit_of_work(session, cause("a"))
            uow.emit_envelope(outbound(1, "acc-1"))
            await uow.flush()

        async def broken(messages: list[OutboxMessage]) -> None:
            raise ConnectionError("broker unreachable")

        with pytest.raises(ConnectionError):
            await relay_all(runtime, broken)
        assert await runtime.outbox_backlog() == 1

    async def test_the_inbox_turns_a_redelivery_into_no_change(self, runtime: ServiceRuntime) -> None:
        due = make_envelope(
            "payment.due",
            {
                "account_id": "acc-r",
                "due_id": "d1",
                "due_date": "2024-01-10",
                "amount_due_minor": 100,
                "statement_balance_minor": 100,
            },
            event_id="redelivered",
        )
        delivery = Delivery("billing", as_event(due), position="kafka:t/0/0")
        await runtime.process([delivery])
        before = await snapshot(runtime)
        assert len(before["outbox"]) == 1 and ("ledger", "redelivered") in before["inbox"]
        await runtime.process([delivery])
        await runtime.process([delivery, delivery])
        assert await snapshot(runtime) == before


class TestStoreOnSQLite(StoreContract):
    """The contract on the embedded default's SQLite."""

    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.mark.postgres
class TestStoreOnPostgres(StoreContract):
    """The contract on production's PostgreSQL."""

    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url
