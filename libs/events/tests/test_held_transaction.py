"""Database.held() and ServiceRuntime.hold() (decision 0009): replay's one transaction per service.

On a real SQLite file with the ledger's handler: a batch inside the hold is a savepoint, so a batch
whose handler fails undoes only itself (its snapshot and outbox rows, and nothing of it in the held
cache), the retry-one-by-one path still answers a persistent bug with one rejection, the inbox is
answered from memory without losing a duplicate, and everything is committed when the hold ends
(read back by a fresh connection). Outside a hold nothing changes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import Delivery, OutboxMessage, ServiceRuntime
from collections_events.store.database import Database
from collections_events.store.uow import UnitOfWork
from collections_events.testing import make_envelope
from collections_events.validation import Event, read_structured
from collections_ledger.adapters.spec import SPEC


def _event(type_name: str, data: dict[str, object], event_id: str) -> Event:
    parsed = read_structured(make_envelope(type_name, data, event_id=event_id).to_structured())
    assert isinstance(parsed, Event)
    return parsed


def _due(n: int) -> Delivery:
    data = {
        "account_id": "acc-h",
        "due_id": f"due-{n}",
        "due_date": "2024-01-05",
        "amount_due_minor": 1000,
        "statement_balance_minor": 1000 * n,
    }
    return Delivery("billing", _event("payment.due", data, f"due-evt-{n}"), position=f"log:{n}")


async def _count(db: Database, table: str) -> int:
    t = SPEC.tables[table]
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(t))).scalar_one())


async def test_a_failing_batch_under_the_hold_undoes_only_itself(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    fail_on = {"due-evt-2"}

    async def handle(event: Event, uow: UnitOfWork) -> None:
        await SPEC.handle(event, uow)
        if event.id in fail_on:
            raise ZeroDivisionError("a bug after the handler's own writes")

    runtime = ServiceRuntime(replace(SPEC, handle=handle), Database(url), PlatformConfig(), record_metrics=False)
    published: list[OutboxMessage] = []

    async def publish(messages: list[OutboxMessage]) -> None:
        published.extend(messages)

    await runtime.start()
    try:
        async with runtime.hold():
            assert await runtime.process([_due(1)]) == []
            await runtime.relay(publish)
            # The failing batch holds a good delivery too: the batch is undone, then retried one by one.
            dead = await runtime.process([_due(3), _due(2)])
            assert [d.reason for d in dead] == ["handler failed: ZeroDivisionError"]
            await runtime.relay(publish)
            assert await runtime.process([_due(3), _due(1)]) == []  # both duplicates now: no effect
            await runtime.relay(publish)
            cache = runtime.db.held_cache
            assert cache is not None and cache.outbox_bypass
            snapshot = cache.snapshots["acc-h"]
            assert snapshot is not None and snapshot.state is not None
        types = [m.envelope.type for m in published if m.envelope is not None]
        assert types == ["ledger.balance_changed", "ledger.balance_changed", "system.event_rejected"]
        changes = [m.envelope.data for m in published[:2] if m.envelope is not None]
        unpaid = [[d["due_id"] for d in data["unpaid_dues"]] for data in changes]
        assert unpaid == [["due-1"], ["due-1", "due-3"]]  # due-2's batch left nothing behind
        # Committed when the hold ended: a fresh engine reads it, and the outbox table never held a row.
        fresh = Database(url)
        try:
            assert await _count(fresh, "inbox") == 3  # due-evt-1, due-evt-3 and the rejected due-evt-2
            assert await _count(fresh, "outbox") == 0
        finally:
            await fresh.close()
        # A second hold on the same file reads the inbox table (not empty): the duplicate is still one.
        async with runtime.hold():
            assert runtime.db.held_cache is not None and "ledger" not in runtime.db.held_cache.inbox_handled
            assert await runtime.process([_due(1)]) == []
            await runtime.relay(publish)
        assert len(published) == 3
    finally:
        await runtime.db.close()


async def test_a_hold_that_fails_commits_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    runtime = ServiceRuntime(SPEC, Database(url), PlatformConfig(), record_metrics=False)
    await runtime.start()
    try:
        try:
            async with runtime.hold():
                assert await runtime.process([_due(1)]) == []
                raise RuntimeError("the replay failed (a full disk, say)")
        except RuntimeError:
            pass
        assert await _count(runtime.db, "inbox") == 0
        assert await _count(runtime.db, "snapshots") == 0
    finally:
        await runtime.db.close()


async def test_a_hold_ending_with_rows_kept_in_memory_unpublished_fails_and_commits_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    runtime = ServiceRuntime(SPEC, Database(url), PlatformConfig(), record_metrics=False)
    await runtime.start()
    try:
        with pytest.raises(RuntimeError, match="outbox rows unpublished at the end of a hold"):
            async with runtime.hold():
                assert await runtime.process([_due(1)]) == []  # and no relay: the row is only in memory
        assert await _count(runtime.db, "snapshots") == 0
    finally:
        await runtime.db.close()
