"""Migration 0002: the `delinquency_clock` table's date moves into the `$clock` snapshot (issue 18).

A database at 0001 with a closed date upgrades to one whose clock is the snapshot (same date, the
table gone), and the service goes on from that date; a fresh database has the snapshot from the
start (null date). Both backends, one suite.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from collections_delinquency.adapters.spec import SPEC
from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import Delivery, ServiceRuntime
from collections_events.store import clock
from collections_events.store.database import Database
from collections_events.testing import make_event, run_migration


async def _run(db: Database, action: str, revision: str) -> None:
    await run_migration(db, SPEC.migrations, action, revision)


async def _clock_row(db: Database) -> tuple[int, dict[str, Any]] | None:
    async with db.transaction() as session:
        row = (await session.execute(text("SELECT version, state FROM snapshots WHERE stream_id = '$clock'"))).first()
    return None if row is None else (int(row[0]), json.loads(row[1]))


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


class ClockMigration:
    """A subclass provides `url`."""

    @pytest.fixture
    async def db(self, url: str) -> AsyncIterator[Database]:
        db = Database(url)
        try:
            yield db
        finally:
            await db.close()

    async def test_a_database_at_0001_keeps_its_closed_date(self, db: Database) -> None:
        await _run(db, "upgrade", "0001")
        async with db.transaction() as session:
            await session.execute(text("UPDATE delinquency_clock SET last_closed = :d"), {"d": date(2024, 3, 5)})
        await _run(db, "upgrade", "head")
        assert await _clock_row(db) == (1, {"last_closed": "2024-03-05"})
        assert "delinquency_clock" not in await _tables(db)

        runtime = ServiceRuntime(SPEC, db, PlatformConfig())
        await runtime.start()
        same = make_event("day.closed", {"as_of": "2024-03-05"}, event_id="c5")
        following = make_event("day.closed", {"as_of": "2024-03-06"}, event_id="c6")
        await runtime.process([Delivery("clock", same, position="c5"), Delivery("clock", following, position="c6")])
        async with db.transaction() as session:
            assert await clock.last_closed(runtime.unit_of_work(session)) == date(2024, 3, 6)
            rejected = await session.scalar(text("SELECT count(*) FROM outbox"))
        assert rejected == 1, "the close of 5 March again is rejected, 6 March is applied"

    async def test_a_fresh_database_has_the_clock_row_and_downgrade_gives_the_table_back(self, db: Database) -> None:
        await _run(db, "upgrade", "head")
        assert await _clock_row(db) == (1, {"last_closed": None})
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE snapshots SET state = :s, version = 2 WHERE stream_id = '$clock'"),
                {"s": '{"last_closed":"2024-04-01"}'},
            )
        await _run(db, "downgrade", "0001")
        assert await _clock_row(db) is None
        async with db.transaction() as session:
            assert await session.scalar(text("SELECT last_closed FROM delinquency_clock")) in (
                date(2024, 4, 1),
                "2024-04-01",  # SQLite through text(): the stored string
            )


class TestClockMigrationOnSQLite(ClockMigration):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / 'delinquency.sqlite3'}"


@pytest.mark.postgres
class TestClockMigrationOnPostgres(ClockMigration):
    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url
