"""The outbox: what a service published, written in its handler's transaction, relayed in `seq` order.

Rows are inserted in emit order (one statement per transaction), published by the service's one
publisher (runtime/publisher.py) and then deleted: the outbox holds only what waits to be sent, so its
size is the backlog and reading it never slows with the service's age (issue 14).

On PostgreSQL the insert takes the table's EXCLUSIVE lock until commit, so `seq` order is commit
order: a publisher that sends by `seq` never sends a later commit before an earlier one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.envelope import Envelope
from collections_events.store.statements import execute, fetch_all, fetch_one, statement

MAX_EVENT_BYTES = 900_000
"""The largest structured JSON an outbox row may hold (UTF-8 bytes).

Kafka's default `message.max.bytes` is 1 MiB with headers and batch overhead; an event above this
would be refused by the broker forever and block every row behind it, so it is refused at write
time instead (its cause is rejected, or an API command answers 422)."""

_COLUMNS = ("topic", "key", "event", "traceparent", "sent")


class OutboxRowTooLarge(ValueError):
    """An emitted event's JSON exceeds MAX_EVENT_BYTES (a permanent failure of its cause)."""


@dataclass(frozen=True)
class OutboxMessage:
    """One outbox row to publish: topic key, Kafka key, structured JSON, traceparent.

    `envelope` is the event itself when the row was written by this process (the publisher then
    sends it without parsing the JSON back); None when read back from the table.
    """

    seq: int
    topic: str
    key: str
    value: str
    traceparent: str | None
    envelope: Envelope | None = None


def encode_envelope(envelope: Envelope) -> str:
    """The structured-mode JSON of `envelope`: one line, non-ASCII kept, attribute order fixed."""
    return json.dumps(envelope.to_structured(), ensure_ascii=False, separators=(",", ":"))


def outbox_row(topic: str, envelope: Envelope) -> dict[str, Any]:
    """The row for `envelope` on `topic`. Raises OutboxRowTooLarge above MAX_EVENT_BYTES."""
    event = encode_envelope(envelope)
    if len(event) > MAX_EVENT_BYTES // 4 and len(event.encode("utf-8")) > MAX_EVENT_BYTES:
        raise OutboxRowTooLarge(
            f"{envelope.type} {envelope.id} is {len(event.encode('utf-8'))} bytes; the limit is {MAX_EVENT_BYTES}"
        )
    return {"topic": topic, "key": envelope.subject, "event": event, "traceparent": envelope.traceparent, "sent": False}


async def write_outbox(
    session: AsyncSession, outbox: Table, rows: list[dict[str, Any]], envelopes: list[Envelope] | None = None
) -> list[OutboxMessage]:
    """Insert `rows` (`outbox_row`) in order in the caller's transaction; returns them as messages with seqs.

    `envelopes`, when given, are the rows' events (same order), kept on the returned messages.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"LOCK TABLE {outbox.name} IN EXCLUSIVE MODE"))
        result = await session.execute(
            insert(outbox).returning(outbox.c.seq, sort_by_parameter_order=True), [_plain(r) for r in rows]
        )
        seqs = [int(s) for s in result.scalars()]
    else:
        # SQLite has one writer at a time and gives an INTEGER PRIMARY KEY max + 1: the rows just
        # inserted hold the last len(rows) seqs.
        await execute(session, _insert(outbox), rows)
        last = int((await fetch_one(session, _max_seq(outbox)) or (0,))[0] or 0)
        seqs = list(range(last - len(rows) + 1, last + 1))
    found: list[Envelope | None] = list(envelopes) if envelopes else [None] * len(rows)
    return [
        OutboxMessage(seq, r["topic"], r["key"], r["event"], r["traceparent"], e)
        for seq, r, e in zip(seqs, rows, found, strict=True)
    ]


async def unsent(session: AsyncSession, outbox: Table, limit: int) -> list[OutboxMessage]:
    """Up to `limit` rows waiting, oldest `seq` first."""
    query = _unsent(outbox)
    rows = await fetch_all(session, query, {"b_limit": limit})
    return [OutboxMessage(int(seq), topic, key, event, trace) for seq, topic, key, event, trace in rows]


async def first_seq(session: AsyncSession, outbox: Table) -> int | None:
    """The `seq` of the oldest waiting row, or None when the outbox is empty."""
    row = await fetch_one(session, _min_seq(outbox))
    return None if row is None or row[0] is None else int(row[0])


async def prune(session: AsyncSession, outbox: Table, seqs: list[int]) -> None:
    """Delete rows that are published (one statement)."""
    if not seqs:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text(f"DELETE FROM {outbox.name} WHERE seq = ANY(CAST(:seqs AS bigint[]))"), {"seqs": seqs}
        )
        return
    # SQLite gives a new row max(seq) + 1: deleting the newest row would hand its seq out again,
    # so the newest published row stays, marked sent, as the high-water mark.
    low, high = min(seqs), max(seqs)
    await execute(session, _mark_sent(outbox), {"b_seq": high})
    rest = [s for s in seqs if s != high]
    if rest and max(rest) - low + 1 == len(rest):
        await execute(session, _delete_range(outbox), {"b_low": low, "b_high": max(rest)})
    elif rest:
        await execute(session, _delete_one(outbox), [{"b_seq": s} for s in rest])
    await execute(session, _delete_sent_below(outbox), {"b_seq": high})


async def backlog(session: AsyncSession, outbox: Table) -> tuple[int, int | None]:
    """How many rows wait, and the oldest one's `seq` (None when none wait)."""
    row = await fetch_one(
        session,
        statement(outbox, "backlog", lambda t: select(func.count(), func.min(t.c.seq)).where(t.c.sent.is_(False))),
    )
    if row is None:
        return 0, None
    return int(row[0] or 0), None if row[1] is None else int(row[1])


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _COLUMNS}


def _insert(outbox: Table) -> Any:
    return statement(outbox, "insert", insert)


def _max_seq(outbox: Table) -> Any:
    return statement(outbox, "max_seq", lambda t: select(func.max(t.c.seq)))


def _min_seq(outbox: Table) -> Any:
    return statement(outbox, "min_seq", lambda t: select(func.min(t.c.seq)).where(t.c.sent.is_(False)))


def _unsent(outbox: Table) -> Any:
    return statement(
        outbox,
        "unsent",
        lambda t: (
            select(t.c.seq, t.c.topic, t.c.key, t.c.event, t.c.traceparent)
            .where(t.c.sent.is_(False))
            .order_by(t.c.seq)
            .limit(bindparam("b_limit", type_=Integer()))
        ),
    )


def _delete_range(outbox: Table) -> Any:
    return statement(
        outbox,
        "delete_range",
        lambda t: delete(t).where(t.c.seq >= bindparam("b_low"), t.c.seq <= bindparam("b_high")),
    )


def _mark_sent(outbox: Table) -> Any:
    return statement(outbox, "mark_sent", lambda t: update(t).where(t.c.seq == bindparam("b_seq")).values(sent=True))


def _delete_sent_below(outbox: Table) -> Any:
    return statement(
        outbox, "delete_sent_below", lambda t: delete(t).where(t.c.sent.is_(True), t.c.seq < bindparam("b_seq"))
    )


def _delete_one(outbox: Table) -> Any:
    return statement(outbox, "delete_one", lambda t: delete(t).where(t.c.seq == bindparam("b_seq")))
