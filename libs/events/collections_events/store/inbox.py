"""The inbox: which events a consumer has already handled (decision 0003, issue 14).

`Inbox.claim` records a batch's event ids and answers which of them are new, in one statement:
on PostgreSQL `INSERT … SELECT unnest($ids) ON CONFLICT DO NOTHING RETURNING event_id`, a primary
key probe per id whatever the table's size. (The former `event_id IN (…500 values…)` SELECT was
switched by PostgreSQL to a generic plan built on the empty table after five runs and then scanned
every inbox row of the consumer: cost per event grew with the inbox without bound.)

The embedded default's SQLite answers point queries in microseconds on the loop's own thread, so
there each id is looked up and the new ones inserted together when the transaction closes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.store.statements import execute, fetch_one, statement


class Inbox:
    """One transaction's view of a consumer's inbox.

    `claim(ids)` before handling; `first_time(id)` per delivery, in order (a second delivery of
    the same id in one batch is a duplicate); `close()` before the commit writes what is pending.
    Everything is undone with the transaction: a rolled-back batch claims nothing.
    """

    def __init__(self, session: AsyncSession, table: Table, consumer: str, handled: set[str] | None = None) -> None:
        """`handled`, when given, is every id this consumer's inbox holds (Database.held found it
        empty and has seen every claim since): ids are then looked up there, not in the table."""
        self.session = session
        self.table = table
        self.consumer = consumer
        self._handled = handled
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._new: set[str] = set()  # claimed in this transaction, not yet handed out
        self._known: set[str] = set()  # already handled (before, or earlier in this transaction)
        self._pending: list[dict[str, str]] = []  # SQLite: rows of handed-out ids, inserted at close
        self.inserted: list[str] = []  # SQLite: ids this transaction inserted (for the held cache)

    async def claim(self, event_ids: Iterable[str]) -> None:
        """Record `event_ids` (the batch's, in any order); one round trip on PostgreSQL."""
        ids = [i for i in dict.fromkeys(event_ids) if i not in self._new and i not in self._known]
        if not ids:
            return
        if self._handled is not None:
            for event_id in ids:
                (self._known if event_id in self._handled else self._new).add(event_id)
            return
        if not self._postgres:
            for event_id in ids:
                await self._claim_sqlite(event_id)
            return
        sql = text(
            f"INSERT INTO {self.table.name} (consumer, event_id) "
            "SELECT :consumer, unnest(CAST(:ids AS varchar[])) ON CONFLICT DO NOTHING RETURNING event_id"
        )
        claimed = {row[0] for row in await self.session.execute(sql, {"consumer": self.consumer, "ids": ids})}
        self._new.update(claimed)
        self._known.update(i for i in ids if i not in claimed)

    async def first_time(self, event_id: str) -> bool:
        """True exactly once per id not handled before; claims the id when `claim` did not."""
        if event_id not in self._new and event_id not in self._known:
            await self.claim([event_id])
        if event_id in self._new:
            self._new.discard(event_id)
            self._known.add(event_id)
            if not self._postgres:
                self._pending.append({"consumer": self.consumer, "event_id": event_id})
            return True
        return False

    async def close(self) -> None:
        """Insert the rows still pending (SQLite) and give back claims nobody used (PostgreSQL).

        A claimed id that was never handed out (its delivery turned out not to be wanted) is
        removed again, so the inbox only ever holds events a handler really saw.
        """
        if self._pending:
            await execute(self.session, statement(self.table, "insert", insert), self._pending)
            self.inserted.extend(row["event_id"] for row in self._pending)
            self._pending = []
        if self._new and self._postgres:
            sql = text(
                f"DELETE FROM {self.table.name} WHERE consumer = :consumer AND event_id = ANY(CAST(:ids AS varchar[]))"
            )
            await self.session.execute(sql, {"consumer": self.consumer, "ids": sorted(self._new)})
        self._new.clear()

    async def _claim_sqlite(self, event_id: str) -> None:
        query = statement(
            self.table,
            "seen_one",
            lambda t: select(t.c.event_id).where(
                t.c.consumer == bindparam("b_consumer", type_=t.c.consumer.type),
                t.c.event_id == bindparam("b_id", type_=t.c.event_id.type),
            ),
        )
        if await fetch_one(self.session, query, {"b_consumer": self.consumer, "b_id": event_id}) is None:
            self._new.add(event_id)
        else:
            self._known.add(event_id)


async def inbox_is_empty(session: AsyncSession, table: Table, consumer: str) -> bool:
    """True when `consumer` has no row in the inbox `table` (it has handled nothing yet)."""
    query = statement(
        table,
        "any_row",
        lambda t: select(t.c.event_id).where(t.c.consumer == bindparam("b_consumer", type_=t.c.consumer.type)).limit(1),
    )
    return await fetch_one(session, query, {"b_consumer": consumer}) is None
