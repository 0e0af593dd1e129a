"""Run prebuilt SQLAlchemy Core statements, cheaply on the embedded default's inline SQLite.

The embedded default (`make run`, `collections replay`) runs tens of thousands of tiny statements;
on SQLite SQLAlchemy's per-call machinery (cache key, execution context, result wrapping) costs
several times the statement itself. `fetch_all`/`fetch_one`/`fetch_scalar`/`execute` take the same
Core statement and parameters a service would pass to `session.execute`:

- on an inline SQLite connection (store/sqlite_inline.py) the statement is compiled once by
  SQLAlchemy's own SQLite compiler, with its own bind and result processors (dates, booleans), and
  then run on the sqlite3 connection of the session's transaction: same SQL, same values;
- anywhere else (PostgreSQL in production) it goes through `session.execute` unchanged.

Statements must be built once (module constants or `uow.statement`), not per call: compilations are
cached by statement object. Statements this runner cannot reproduce exactly (expanding IN lists,
Python-side column defaults, RETURNING) always take the SQLAlchemy path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from collections_events.store.sqlite_inline import InlineConnection

_INLINE_KEY = "collections_events.inline_sqlite"
_CACHE_LIMIT = 1024
Params = Mapping[str, Any]
Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Compiled:
    """One statement compiled for SQLite: its SQL, its bind order and the value conversions."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]  # values of the binds the statement itself holds (`== 1`), by name
    bind: tuple[Callable[[Any], Any] | None, ...]
    result: tuple[Callable[[Any], Any] | None, ...]


# id(statement) -> (statement, parameter keys, compiled | None when it must take SQLAlchemy's path).
# The statement is kept so that its id is not reused while the entry lives.
_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[Executable, _Compiled | None]] = {}


async def inline_connection(session: AsyncSession) -> InlineConnection | None:
    """The sqlite3 connection of the session's transaction when it runs inline (else None).

    Remembered per session transaction: its connection does not change until the transaction ends.
    """
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return None
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_INLINE_KEY)
    if transaction is not None and transaction.is_active and cached is not None and cached[0] is transaction:
        return cached[1]  # type: ignore[no-any-return]
    connection = await session.connection()
    driver = connection.sync_connection.connection.driver_connection if connection.sync_connection else None
    inline = driver if isinstance(driver, InlineConnection) else None
    session.info[_INLINE_KEY] = (session.sync_session.get_transaction(), inline)
    return inline


async def fetch_all(session: AsyncSession, statement: Executable, params: Params | None = None) -> list[Row]:
    """Every row of a SELECT, as plain tuples in the statement's column order."""
    inline = await inline_connection(session)
    compiled = _compiled(statement, params, session) if inline is not None else None
    if inline is None or compiled is None:
        return [tuple(row) for row in await session.execute(statement, params)]
    cursor = await run_sqlite(inline, compiled.sql, _values(compiled, params))
    rows = cursor.fetchall()
    if any(compiled.result):
        return [tuple(v if p is None else p(v) for p, v in zip(compiled.result, row, strict=True)) for row in rows]
    return rows


async def fetch_one(session: AsyncSession, statement: Executable, params: Params | None = None) -> Row | None:
    """The first row of a SELECT, or None when there is none."""
    rows = await fetch_all(session, statement, params)
    return rows[0] if rows else None


async def fetch_scalar(session: AsyncSession, statement: Executable, params: Params | None = None) -> Any:
    """The first column of the first row of a SELECT, or None when there is no row."""
    row = await fetch_one(session, statement, params)
    return None if row is None else row[0]


async def execute(session: AsyncSession, statement: Executable, params: Params | Sequence[Params] | None = None) -> int:
    """Run an INSERT/UPDATE/DELETE once (a mapping) or for each row (a list: executemany).

    Returns the number of rows a single statement matched; for a list, the driver's count (SQLite
    sums them; asyncpg may say -1, unknown). Errors are SQLAlchemy's (IntegrityError on a taken key).
    """
    if isinstance(params, Sequence) and not params:
        return 0
    first = params[0] if isinstance(params, Sequence) else params
    inline = await inline_connection(session)
    compiled = _compiled(statement, first, session) if inline is not None else None
    if inline is None or compiled is None:
        result = await session.execute(statement, params)
        return int(result.rowcount)  # type: ignore[attr-defined]
    if isinstance(params, Sequence):
        values = [_values(compiled, p) for p in params]
        cursor: sqlite3.Cursor = await _guarded(inline, inline._conn.executemany, compiled.sql, values)
    else:
        cursor = await run_sqlite(inline, compiled.sql, _values(compiled, first))
    return max(cursor.rowcount, 0)


async def run_sqlite(inline: InlineConnection, sql: str, values: Sequence[Any]) -> sqlite3.Cursor:
    """Run one SQL string on the inline sqlite3 connection; errors wrapped as SQLAlchemy wraps them."""
    cursor: sqlite3.Cursor = await _guarded(inline, inline._conn.execute, sql, values)
    return cursor


async def _guarded(inline: InlineConnection, call: Callable[..., Any], sql: str, values: Any) -> Any:
    try:
        return await inline._execute(call, sql, values)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc


def _values(compiled: _Compiled, params: Params | None) -> list[Any]:
    given = params or {}
    out = []
    for name, process in zip(compiled.names, compiled.bind, strict=True):
        if name in given:
            value = given[name]
        elif name in compiled.fixed:
            value = compiled.fixed[name]
        else:
            raise KeyError(f"a value is required for bind parameter {name!r}")
        out.append(value if process is None else process(value))
    return out


def _compiled(statement: Executable, params: Params | None, session: AsyncSession) -> _Compiled | None:
    keys = tuple(params) if params else ()
    key = (id(statement), keys)
    found = _COMPILED.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    if len(_COMPILED) >= _CACHE_LIMIT:
        _COMPILED.clear()  # statements built per call would grow it without end; correct either way
    assert session.bind is not None
    compiled = _compile(statement, keys, session.bind.dialect)
    _COMPILED[key] = (statement, compiled)
    return compiled


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Compiled | None:
    compiler = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    if not isinstance(compiler, SQLCompiler) or compiler.positiontup is None:
        return None
    if compiler.insert_prefetch or compiler.update_prefetch or compiler.effective_returning:
        return None  # Python-side defaults and RETURNING need SQLAlchemy's execution context
    names = tuple(compiler.positiontup)
    binds = [compiler.binds[name] for name in names]
    if any(b.expanding or b.literal_execute for b in binds):
        return None
    result: tuple[Callable[[Any], Any] | None, ...] = ()
    if isinstance(statement, Select):
        result = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns)
    return _Compiled(
        sql=compiler.string,
        names=names,
        fixed={n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required},
        bind=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds),
        result=result,
    )


_S = TypeVar("_S")
_STATEMENTS: dict[tuple[Table, str], Any] = {}


def statement(table: Table, name: str, build: Callable[[Table], _S]) -> _S:
    """The statement `build(table)`, built once per table and reused (values go in as bound parameters).

    Building a SQLAlchemy statement and its cache key costs more than running it on SQLite; a
    reused statement object keeps its cache key, so only the values change per call.
    """
    key = (table, name)
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build(table)
    return found
