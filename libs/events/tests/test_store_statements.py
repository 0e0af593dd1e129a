"""store/statements.py: on the inline SQLite connection it must read and write exactly what
SQLAlchemy's own path does (same SQL, same bind and result conversions), and statements it cannot
reproduce must still run, through SQLAlchemy. The same calls run on PostgreSQL, where every
statement takes SQLAlchemy's path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from collections_events.store import statements
from collections_events.store.database import Database

METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("key", String(50), primary_key=True),
    Column("amount_minor", Integer, nullable=True),
    Column("due_on", Date, nullable=True),
    Column("settled", Boolean, nullable=True),
    Column("flag", Boolean, nullable=False, default=False),  # a Python-side default: SQLAlchemy's path
)
INSERT = insert(THINGS)
BY_AMOUNT = (
    select(THINGS.c.key, THINGS.c.amount_minor, THINGS.c.due_on, THINGS.c.settled)
    .where(THINGS.c.amount_minor >= bindparam("b_min"))
    .order_by(THINGS.c.key)
)
ALL = select(THINGS.c.key, THINGS.c.amount_minor, THINGS.c.due_on, THINGS.c.settled).order_by(THINGS.c.key)
FIXED = select(func.count()).select_from(THINGS).where(THINGS.c.key == "fixed")
IN_LIST = select(THINGS.c.key).where(THINGS.c.key.in_(bindparam("b_keys", expanding=True))).order_by(THINGS.c.key)
CLEAR = delete(THINGS)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.text(alphabet="abcdefghij", min_size=1, max_size=6),
            "amount_minor": st.none() | st.integers(-(2**53) + 1, 2**53 - 1),
            "due_on": st.none() | st.dates(date(1970, 1, 1), date(2100, 12, 31)),
            "settled": st.none() | st.booleans(),
            "flag": st.booleans(),
        }
    ),
    max_size=8,
    unique_by=lambda r: r["key"],
)


async def _database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    return db


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await _database(f"sqlite:///{tmp_path}/statements.sqlite3")
    yield db
    await db.close()


def _as_tuples(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["key"], r["amount_minor"], r["due_on"], r["settled"]) for r in rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, threshold=st.integers(-(2**53) + 1, 2**53 - 1))
async def test_inline_path_reads_and_writes_what_sqlalchemy_does(
    sqlite_db: Database, rows: list[dict[str, Any]], threshold: int
) -> None:
    async with sqlite_db.transaction() as session:
        assert await statements.inline_connection(session) is not None
        await statements.execute(session, CLEAR)
        # Written by the runner, read back by SQLAlchemy.
        assert await statements.execute(session, INSERT, rows) == len(rows)
        by_sqlalchemy = [tuple(r) for r in await session.execute(ALL)]
        assert by_sqlalchemy == _as_tuples(rows)
        # Read by the runner: the same rows with the same Python types (date, bool, None).
        assert await statements.fetch_all(session, ALL) == by_sqlalchemy
        expected = [tuple(r) for r in await session.execute(BY_AMOUNT, {"b_min": threshold})]
        assert await statements.fetch_all(session, BY_AMOUNT, {"b_min": threshold}) == expected
        await session.rollback()


async def test_a_taken_key_raises_sqlalchemys_integrity_error(sqlite_db: Database) -> None:
    row = {"key": "k", "amount_minor": 1, "due_on": None, "settled": None, "flag": False}
    async with sqlite_db.transaction() as session:
        await statements.execute(session, INSERT, row)
        with pytest.raises(IntegrityError):
            await statements.execute(session, INSERT, row)


async def test_statements_it_cannot_reproduce_take_sqlalchemys_path(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as session:
        # `flag` left out: its Python-side default must still be applied.
        await statements.execute(session, INSERT, [{"key": "a"}, {"key": "fixed"}])
        assert await statements.fetch_scalar(session, select(THINGS.c.flag).where(THINGS.c.key == "a")) is False
        # An expanding IN list and a literal bound in the statement itself.
        assert await statements.fetch_all(session, IN_LIST, {"b_keys": ["fixed", "zz"]}) == [("fixed",)]
        assert await statements.fetch_scalar(session, FIXED) == 1
        assert await statements.fetch_one(session, IN_LIST, {"b_keys": ["none"]}) is None


async def test_a_missing_parameter_is_named(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as session:
        with pytest.raises(KeyError, match="b_min"):
            await statements.fetch_all(session, BY_AMOUNT, {})


@pytest.mark.postgres
async def test_the_same_calls_on_postgresql(pg_url: str) -> None:
    db = await _database(pg_url)
    try:
        async with db.transaction() as session:
            assert await statements.inline_connection(session) is None
            rows = [
                {"key": "a", "amount_minor": 5, "due_on": date(2026, 3, 1), "settled": True, "flag": True},
                {"key": "b", "amount_minor": None, "due_on": None, "settled": None, "flag": False},
            ]
            await statements.execute(session, INSERT, rows)  # executemany: asyncpg does not count
            assert await statements.fetch_all(session, BY_AMOUNT, {"b_min": 1}) == [("a", 5, date(2026, 3, 1), True)]
            assert await statements.fetch_scalar(session, FIXED) == 0
            assert await statements.execute(session, CLEAR) == 2
    finally:
        await db.close()
