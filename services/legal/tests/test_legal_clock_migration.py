"""Migration 0004: legal's clock snapshot `clock` becomes `$clock`, as every service's (issue 18).

A database at 0003 that has closed a date upgrades keeping it (version and state), the service
goes on from that date (the same close again changes nothing, the next one applies), and the
downgrade gives the old name back. Both backends, one suite.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import Delivery, ServiceRuntime
from collections_events.store import clock
from collections_events.store.database import Database
from collections_events.testing import make_event, run_migration
from collections_legal.adapters.spec import SPEC


async def _run(db: Database, action: str, revision: str) -> None:
    await run_migration(db, SPEC.migrations, action, revision)


async def _row(db: Database, stream: str) -> tuple[int, dict[str, Any]] | None:
    async with db.transaction() as session:
        row = (
            await session.execute(text("SELECT version, state FROM snapshots WHERE stream_id = :s"), {"s": stream})
        ).first()
    return None if row is None else (int(row[0]), json.loads(row[1]))


class LegalClockMigration:
    """A subclass provides `url`."""

    @pytest.fixture
    async def db(self, url: str) -> AsyncIterator[Database]:
        db = Database(url)
        try:
            yield db
        finally:
            await db.close()

    async def test_a_closed_date_survives_the_rename_both_ways(self, db: Database) -> None:
        await _run(db, "upgrade", "0003_handled_inputs")
        async with db.transaction() as session:
            await session.execute(
                text("INSERT INTO snapshots (stream_id, version, state, wake_on) VALUES ('clock', 4, :s, NULL)"),
                {"s": '{"last_closed":"2024-03-05"}'},
            )
        await _run(db, "upgrade", "head")
        assert await _row(db, "clock") is None
        assert await _row(db, "$clock") == (4, {"last_closed": "2024-03-05"})

        runtime = ServiceRuntime(SPEC, db, PlatformConfig(), record_metrics=False)
        await runtime.start()
        same = make_event("day.closed", {"as_of": "2024-03-05"}, event_id="c5")
        following = make_event("day.closed", {"as_of": "2024-03-06"}, event_id="c6")
        await runtime.process([Delivery("clock", same, position="c5"), Delivery("clock", following, position="c6")])
        async with db.transaction() as session:
            assert await clock.last_closed(runtime.unit_of_work(session)) == date(2024, 3, 6)
        assert await _row(db, "$clock") == (5, {"last_closed": "2024-03-06"})

        await _run(db, "downgrade", "0003_handled_inputs")
        assert await _row(db, "$clock") is None
        assert await _row(db, "clock") == (5, {"last_closed": "2024-03-06"})


class TestLegalClockMigrationOnSQLite(LegalClockMigration):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / 'legal.sqlite3'}"


@pytest.mark.postgres
class TestLegalClockMigrationOnPostgres(LegalClockMigration):
    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url
