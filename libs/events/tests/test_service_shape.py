"""The pieces every service is built from (issue 18): the clock, the repository, the handler table.

The clock and the snapshot repository run on both backends (one suite, a subclass per database, as
test_store_contract.py); the handler table is pure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collections_events import inbound, outbound
from collections_events.config import PlatformConfig
from collections_events.runtime.handlers import dispatch, subscriptions_for, types_of
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.runtime.service import Subscription
from collections_events.store import clock
from collections_events.store.database import Database
from collections_events.store.repository import SnapshotRepository
from collections_events.store.uow import ConcurrencyError, UnitOfWork
from collections_events.testing import make_envelope
from collections_events.validation import Event, read_structured
from collections_ledger.adapters.spec import SPEC


@dataclass(frozen=True)
class Tally:
    """A toy account state: a count and the date it next wakes."""

    count: int
    wake: date | None


class Tallies(SnapshotRepository[Tally]):
    def encode(self, value: Tally) -> dict[str, Any]:
        return {"count": value.count, "wake": value.wake.isoformat() if value.wake else None}

    def decode(self, account_id: str, state: dict[str, Any]) -> Tally:
        return Tally(state["count"], date.fromisoformat(state["wake"]) if state["wake"] else None)

    def wake_on(self, value: Tally) -> date | None:
        return value.wake


class ShapeOnBackend:
    """The clock and the repository; a subclass provides `url`."""

    @pytest.fixture
    async def runtime(self, url: str) -> AsyncIterator[ServiceRuntime]:
        runtime = ServiceRuntime(SPEC, Database(url), PlatformConfig())
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.db.close()

    async def test_the_clock_moves_forward_only(self, runtime: ServiceRuntime) -> None:
        async with runtime.db.transaction() as session:
            uow = runtime.unit_of_work(session)
            assert await clock.last_closed(uow) is None
            assert await clock.close_day(uow, date(2024, 3, 5), lock=True) is True
            assert await clock.close_day(uow, date(2024, 3, 5)) is False
            assert await clock.close_day(uow, date(2024, 3, 4)) is False
        async with runtime.db.transaction() as session:
            uow = runtime.unit_of_work(session)
            assert await clock.last_closed(uow, lock="share") == date(2024, 3, 5)
            assert await clock.close_day(uow, date(2024, 3, 6)) is True
        async with runtime.db.transaction() as session:
            assert await clock.last_closed(runtime.unit_of_work(session)) == date(2024, 3, 6)

    async def test_two_closes_racing_one_wins(self, runtime: ServiceRuntime) -> None:
        both_read = asyncio.Barrier(2)

        async def closer(on: date) -> str:
            try:
                async with runtime.db.transaction() as session:
                    uow = runtime.unit_of_work(session)
                    await clock.last_closed(uow)
                    await both_read.wait()
                    await clock.close_day(uow, on)
                return "won"
            except ConcurrencyError:
                return "conflict"

        async with runtime.db.transaction() as session:
            await clock.close_day(runtime.unit_of_work(session), date(2024, 1, 1))
        results = await asyncio.gather(closer(date(2024, 1, 2)), closer(date(2024, 1, 3)))
        assert sorted(results) == ["conflict", "won"]

    async def test_the_repository_round_trips_and_wakes(self, runtime: ServiceRuntime) -> None:
        async with runtime.db.transaction() as session:
            uow = runtime.unit_of_work(session)
            repo = Tallies.of(uow)
            assert Tallies.of(uow) is repo, "one repository per transaction"
            await repo.prefetch(["a-1", "a-2"])
            assert await repo.get("a-1") is None
            await repo.put("a-1", Tally(1, date(2024, 2, 1)))
            await repo.put("a-2", Tally(7, None))
            await repo.put("a-1", Tally(2, date(2024, 2, 1)))  # a second save in the same transaction
            await clock.close_day(uow, date(2024, 1, 31))
            await uow.flush()
        async with runtime.db.transaction() as session:
            uow = runtime.unit_of_work(session)
            repo = Tallies.of(uow)
            assert await repo.get("a-1") == Tally(2, date(2024, 2, 1))
            assert await repo.version("a-1") == 2
            assert await repo.waking(date(2024, 2, 1)) == ["a-1"], "the clock's stream never wakes"
            assert await repo.waking(date(2024, 1, 31)) == []
            await repo.put("a-2", Tally(7, None))  # unchanged: not written again
            assert await repo.version("a-2") == 1


class TestShapeOnSQLite(ShapeOnBackend):
    """On the embedded default's SQLite."""

    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / 'shape.sqlite3'}"


@pytest.mark.postgres
class TestShapeOnPostgres(ShapeOnBackend):
    """On production's PostgreSQL."""

    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url


def test_the_subscription_follows_from_the_handler_table() -> None:
    async def nothing(data: Any, uow: UnitOfWork) -> None:
        return None

    table = {
        inbound.DayClosed: nothing,
        inbound.AccountFlagChanged: nothing,
        outbound.PromiseEvent: nothing,
        inbound.PaymentReceived: nothing,
    }
    assert types_of(table) == {
        "accounts": frozenset({"account.flag_set", "account.flag_cleared"}),
        "payments": frozenset({"payment.received"}),
        "clock": frozenset({"day.closed"}),
        "outreach": frozenset({"outreach.promise_recorded", "outreach.promise_kept", "outreach.promise_broken"}),
    }
    assert subscriptions_for(table)[0] == Subscription(
        "accounts", frozenset({"account.flag_set", "account.flag_cleared"})
    )


async def test_dispatch_calls_the_entry_of_the_events_model() -> None:
    seen: list[str] = []

    async def on_close(data: inbound.DayClosed, uow: UnitOfWork) -> None:
        seen.append(data.as_of.isoformat())

    handle = dispatch({inbound.DayClosed: on_close})
    closed = read_structured(make_envelope("day.closed", {"as_of": "2024-05-01"}).to_structured())
    assert isinstance(closed, Event)
    await handle(closed, None)  # type: ignore[arg-type]  # the handler never touches the unit of work
    assert seen == ["2024-05-01"]
    due = read_structured(
        make_envelope(
            "payment.due",
            {
                "account_id": "a",
                "due_id": "d",
                "due_date": "2024-05-01",
                "amount_due_minor": 1,
                "statement_balance_minor": 1,
            },
        ).to_structured()
    )
    assert isinstance(due, Event), due
    with pytest.raises(LookupError, match=r"payment\.due"):
        await handle(due, None)  # type: ignore[arg-type]
