"""Database's SQLite settings: durable by default (synchronous=NORMAL in WAL), and only on request
(`durable=False`, for state rebuilt from scratch) are commits handed to the OS without waiting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from collections_events.store.database import Database


@pytest.mark.parametrize(("durable", "synchronous"), [(True, 1), (False, 0)])  # 1 NORMAL, 0 OFF
async def test_sqlite_settings(tmp_path: Path, durable: bool, synchronous: int) -> None:
    db = Database(f"sqlite:///{tmp_path}/s.sqlite3", durable=durable)
    try:
        async with db.transaction() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA synchronous"))).scalar() == synchronous
    finally:
        await db.close()
