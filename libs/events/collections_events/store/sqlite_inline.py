"""An aiosqlite connection that runs sqlite3 inline on the event loop's thread.

aiosqlite hands every call to a worker thread and waits for its answer: for the embedded default's
many tiny statements that hop costs more than the statement itself (about a third of `make run`'s
CPU). SQLite calls on a local file are short, so running them on the loop's thread is cheaper.
SQLAlchemy's aiosqlite dialect gets this connection through `create_async_engine(async_creator=)`:
nothing is patched globally, and PostgreSQL engines are untouched.

Cost: while a statement runs the loop waits (statements are short). A statement that finds the
database locked by another connection (SQLITE_BUSY) must not wait inside SQLite, as that would stop
the loop and with it the lock's holder (another task on this loop may hold it across an await):
SQLite's own busy timeout is 0 on these connections, and the statement is retried after yielding
to the loop, for up to BUSY_WAIT_SECONDS in all, as aiosqlite's thread would have waited.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite

BUSY_WAIT_SECONDS = 10.0
"""How long a statement waits for another connection's lock before `database is locked`."""
_SQLITE_BUSY = 5  # the primary result code only: SQLITE_BUSY_SNAPSHOT (517) never clears by waiting


class _InlineQueue:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once.

    SQLAlchemy's dialect puts some calls (the isolation level setter) on that queue directly.
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the waiter, as aiosqlite's thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An `aiosqlite.Connection` whose calls run inline (its worker thread is never started)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != _SQLITE_BUSY:
                raise
        return await self._retry_while_busy(fn, *args, **kwargs)

    async def _retry_while_busy(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Retry a statement SQLite refused with SQLITE_BUSY (nothing of it applied), yielding between tries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_WAIT_SECONDS
        delay = 0.001
        while True:
            await asyncio.sleep(delay)
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != _SQLITE_BUSY or loop.time() >= deadline:
                    raise
            delay = min(delay * 2, 0.05)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the sqlite3 connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_creator(args: list[Any], kwargs: dict[str, Any]) -> Callable[[], InlineConnection]:
    """An `async_creator` for SQLAlchemy: `sqlite3.connect(*args, **kwargs)` wrapped inline.

    `args`/`kwargs` are what the dialect's `create_connect_args(url)` gives, so the URL means
    what it means to the stock aiosqlite dialect.
    """

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        return connection

    def create() -> InlineConnection:
        return InlineConnection(connector)

    return create
