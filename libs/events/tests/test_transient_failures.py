"""A database's bad moment never turns a valid event into a rejection (issue 14, store/errors.py).

Each class of transient condition is raised by the real PostgreSQL inside the handler's
transaction: a statement timeout and a lock timeout for real (a second connection holds the lock),
and the classes that cannot be provoked safely on a shared test server (deadlock, serialization
failure, disk full, too many connections, admin shutdown) raised by the server itself with their
SQLSTATE from PL/pgSQL. Each time `process` raises RetryLater, commits nothing, and the same
delivery applies once the condition has passed, with no `system.event_rejected`. A handler bug is
still rejected (after RETRIES attempts), so the partition moves on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
from sqlalchemy import select, text

from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import RETRIES, Delivery, RetryLater, ServiceRuntime
from collections_events.store.database import Database
from collections_events.store.errors import Failure, classify
from collections_events.store.uow import UnitOfWork
from collections_events.testing import make_envelope
from collections_events.validation import Event, read_structured
from collections_ledger.adapters.spec import SPEC

pytestmark = pytest.mark.postgres

Fault = Callable[[UnitOfWork], Awaitable[None]]


def _raise(code: str) -> Fault:
    async def fault(uow: UnitOfWork) -> None:
        await uow.session.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '{code}'; END $$"))

    return fault


async def _statement_timeout(uow: UnitOfWork) -> None:
    await uow.session.execute(text("SET LOCAL statement_timeout = '20ms'"))
    await uow.session.execute(text("SELECT pg_sleep(2)"))


FAULTS: dict[str, Fault] = {
    "statement timeout (57014, for real)": _statement_timeout,
    "deadlock (40P01)": _raise("40P01"),
    "serialization failure (40001)": _raise("40001"),
    "disk full (53100)": _raise("53100"),
    "too many connections (53300)": _raise("53300"),
    "admin shutdown (57P01)": _raise("57P01"),
    "lock not available (55P03)": _raise("55P03"),
}


def _payment(event_id: str) -> Event:
    data = {"account_id": "acc-t", "payment_id": event_id, "amount_minor": 100, "received_on": "2024-01-05"}
    parsed = read_structured(make_envelope("payment.received", data, event_id=event_id).to_structured())
    assert isinstance(parsed, Event)
    return parsed


def _runtime(url: str, fault: Fault | None, failures: list[int]) -> ServiceRuntime:
    """The ledger, whose handler first meets `fault` as many times as `failures[0]` says."""

    async def handle(event: Event, uow: UnitOfWork) -> None:
        if fault is not None and failures[0] > 0:
            failures[0] -= 1
            await fault(uow)
        await SPEC.handle(event, uow)

    return ServiceRuntime(replace(SPEC, handle=handle), Database(url), PlatformConfig(), record_metrics=False)


async def _outbox_types(runtime: ServiceRuntime) -> list[str]:
    outbox = runtime.spec.tables["outbox"]
    async with runtime.db.transaction() as session:
        return [json.loads(e)["type"] for (e,) in await session.execute(select(outbox.c.event).order_by(outbox.c.seq))]


@pytest.fixture
async def db_url(pg_url: str) -> AsyncIterator[str]:
    runtime = ServiceRuntime(SPEC, Database(pg_url), PlatformConfig(), record_metrics=False)
    await runtime.start()
    await runtime.db.close()
    yield pg_url


@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_transient_condition_is_retried_never_rejected(db_url: str, name: str) -> None:
    failures = [2]
    runtime = _runtime(db_url, FAULTS[name], failures)
    delivery = Delivery("payments", _payment(f"pay-{list(FAULTS).index(name)}"), position="kafka:t/0/1")
    try:
        for _ in range(2):
            with pytest.raises(RetryLater):
                await runtime.process([delivery])
            assert await _outbox_types(runtime) == [], "nothing was committed"
        assert await runtime.process([delivery]) == []
        assert await _outbox_types(runtime) == ["ledger.balance_changed"]
    finally:
        await runtime.db.close()


async def test_a_lock_held_elsewhere_times_out_and_is_retried(db_url: str) -> None:
    """A real lock timeout: another connection holds the snapshots table while the handler wants it."""

    async def wants_the_lock(uow: UnitOfWork) -> None:
        await uow.session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        await uow.session.execute(text("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE"))

    failures = [1]
    runtime = _runtime(db_url, wants_the_lock, failures)
    holder = Database(db_url)
    delivery = Delivery("payments", _payment("pay-lock"), position="kafka:t/0/2")
    try:
        async with holder.transaction() as session:
            await session.execute(text("LOCK TABLE snapshots IN ACCESS SHARE MODE"))
            with pytest.raises(RetryLater) as raised:
                await runtime.process([delivery])
        assert "55P03" in repr(raised.value.__cause__) or "lock" in str(raised.value).lower()
        assert await runtime.process([delivery]) == []
        assert await _outbox_types(runtime) == ["ledger.balance_changed"]
    finally:
        await holder.close()
        await runtime.db.close()


async def test_a_handler_bug_is_still_rejected_and_the_partition_moves_on(db_url: str) -> None:
    async def bug(uow: UnitOfWork) -> None:
        raise ZeroDivisionError("a bug, not the database")

    failures = [RETRIES + 1]
    runtime = _runtime(db_url, bug, failures)
    delivery = Delivery("payments", _payment("pay-bug"), position="kafka:t/0/3")
    try:
        dead = await runtime.process([delivery])
        assert [d.reason for d in dead] == ["handler failed: ZeroDivisionError"]
        assert await _outbox_types(runtime) == ["system.event_rejected"]
    finally:
        await runtime.db.close()


def test_errors_without_a_sqlstate_are_classified_by_kind() -> None:
    assert classify(ConnectionRefusedError()) is Failure.TRANSIENT
    assert classify(ValueError("a bug")) is Failure.PERMANENT
