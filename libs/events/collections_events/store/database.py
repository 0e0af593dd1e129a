"""One service's database: an async engine on PostgreSQL (asyncpg) or SQLite (aiosqlite).

The URL decides the adapter: `postgresql+asyncpg://...` in production, `sqlite+aiosqlite:///file`
for the embedded default. Migrations (Alembic, per service) run at start.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from collections_events.store.sqlite_inline import InlineConnection, inline_creator
from collections_events.store.statements import inline_connection, run_sqlite
from collections_events.store.transaction import HeldCache


def normalise_url(url: str) -> str:
    """Give a plain `postgresql://` or `sqlite:///` URL its async driver."""
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


class Database:
    """The engine and sessions of one service's own database."""

    def __init__(self, url: str, *, echo: bool = False, durable: bool = True) -> None:
        """`durable=False` (SQLite only) hands commits to the OS without waiting for the disk.

        A crash of the process loses nothing either way; an OS crash or power loss may corrupt a
        non-durable file. For state that is rebuilt from scratch (make run's simulation, a replay on
        a temporary directory), where those waits were a fifth of the run's time.
        """
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            # SQLite has one writer at a time: keep one warm connection, allow a few readers (the API).
            kwargs.update(pool_size=1, max_overflow=4)
            # sqlite3 runs inline on the event loop's thread (sqlite_inline.py), not on aiosqlite's
            # worker thread; the URL's arguments mean what they mean to the stock dialect.
            kwargs.update(async_creator=self._inline_connection)
        else:
            kwargs.update(pool_size=5, max_overflow=5, pool_pre_ping=True)
            # Custom plans always: asyncpg prepares every statement, and after five runs PostgreSQL
            # may switch to a generic plan costed on the tables as they were (often empty at start),
            # which is how an inbox probe once became a scan of the whole inbox (issue 14). The
            # batch statements run a few times per poll, so planning each run costs nothing.
            kwargs.update(connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            pragmas = functools.partial(_sqlite_pragmas, synchronous="NORMAL" if durable else "OFF")
            event.listen(self.engine.sync_engine, "connect", pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._held: AsyncSession | None = None
        self._depth = 0
        self.held_cache: HeldCache | None = None
        """While `held()`: what its transactions committed (store/transaction.py reads it first)."""

    def _inline_connection(self) -> InlineConnection:
        sync_engine = self.engine.sync_engine
        args, connect_kwargs = sync_engine.dialect.create_connect_args(sync_engine.url)
        return inline_creator(list(args), dict(connect_kwargs))()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any exception.

        Inside `held()`, a savepoint of the held transaction instead: released on success, rolled
        back to on any exception, committed with the rest when the hold ends.
        """
        held = self._held
        if held is not None:
            async with self._savepoint(held):
                yield held
            return
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold one transaction open for the block: committed when it ends, rolled back on an exception.

        For a single writer that owns the database for a while (`collections replay`): each
        transaction inside is a savepoint, so a batch that fails still undoes only itself, and the
        begin, commit and session of every batch (a fifth of replay's time) happen once. Readers on
        other connections see none of it until the block ends.
        """
        if not self.is_sqlite:
            raise ValueError("held() is for the embedded SQLite database, which has one writer")
        async with self.sessions() as session, session.begin():
            inline = await inline_connection(session)
            assert inline is not None, "the embedded engine's connections run inline"
            if not inline._conn.in_transaction:
                # Savepoints must nest inside a transaction: a lone SAVEPOINT would start one that
                # its RELEASE commits. sqlite3 then sees a transaction and commits it at the end.
                await run_sqlite(inline, "BEGIN", ())
            self._held, self.held_cache = session, HeldCache()
            try:
                yield
            finally:
                self._held, self.held_cache = None, None

    @asynccontextmanager
    async def _savepoint(self, session: AsyncSession) -> AsyncIterator[None]:
        # On the sqlite3 connection itself: SQLAlchemy's begin_nested costs more than the batch's
        # own statements, and the session holds no ORM state that would need to know.
        inline = await inline_connection(session)
        assert inline is not None
        self._depth += 1
        name = f"held_{self._depth}"
        await run_sqlite(inline, f"SAVEPOINT {name}", ())
        try:
            yield
        except BaseException:
            await run_sqlite(inline, f"ROLLBACK TO {name}", ())
            await run_sqlite(inline, f"RELEASE {name}", ())
            raise
        else:
            await run_sqlite(inline, f"RELEASE {name}", ())
        finally:
            self._depth -= 1

    async def migrate(self, script_location: str | Path) -> None:
        """Run the service's Alembic migrations up to head (idempotent)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(script_location))
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, cfg)

    async def ping(self) -> bool:
        """True when the database answers a trivial query (readiness)."""
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()


def _upgrade(connection: Connection, cfg: AlembicConfig) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, synchronous: str) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the consumer writes; synchronous=NORMAL is durable enough in WAL
    # (it syncs at checkpoints); OFF never waits for the disk (Database(durable=False)).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    # No waiting inside SQLite: it would stop the event loop (sqlite3 runs on its thread); the
    # inline connection waits for a busy lock itself, yielding (sqlite_inline.BUSY_WAIT_SECONDS).
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()
