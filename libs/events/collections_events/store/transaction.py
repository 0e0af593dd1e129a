"""What every unit of work of one transaction shares: cached reads and buffered writes (issue 14).

A poll's deliveries are handled in one transaction (decision 0007). Their units of work share one
`TransactionState`: snapshots and stream versions are read once for the whole batch
(`prefetch`, one `= ANY($1)` query each on PostgreSQL), later reads are served from memory, and
the writes (snapshots, event-log rows, outbox rows) are buffered and written by `write` with one
statement per table before the commit. Reads that must see buffered writes (`waking`,
`read_stream`) write them first, so a handler never sees its own transaction out of date.

Optimistic locking is kept: a snapshot save names the version it read; `write` updates only rows
still at the version first read, counts them, and raises ConcurrencyError when another writer got
there first (the whole batch is then retried).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.envelope import Envelope
from collections_events.store import json_rows
from collections_events.store.outbox import OutboxMessage, write_outbox
from collections_events.store.statements import execute, fetch_all, fetch_one, fetch_scalar, statement


@dataclass
class HeldCache:
    """What the transactions of a database's one held writer committed (Database.held), by stream."""

    snapshots: dict[str, Snapshot | None] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    # True once the runtime found the outbox table empty under the hold: from then on outbox rows
    # stay in memory (numbered from `next_seq`) and the runtime publishes them before the hold ends,
    # instead of inserting rows that the same transaction deletes again (decision 0009).
    outbox_bypass: bool = False
    next_seq: int = 1
    # Per consumer, every event id its inbox holds, once the runtime found its inbox table empty
    # under the hold (a fresh replay): claims are then answered here, not by a query per id.
    inbox_handled: dict[str, set[str]] = field(default_factory=dict)

    LIMIT = 500_000
    """Streams kept at most; past it the cache starts again empty (memory stays bounded)."""

    def outbox_messages(self, rows: list[dict[str, Any]], envelopes: list[Envelope]) -> list[OutboxMessage]:
        """Outbox rows as messages to publish from memory, numbered in emit order."""
        first, self.next_seq = self.next_seq, self.next_seq + len(rows)
        return [
            OutboxMessage(seq, r["topic"], r["key"], r["event"], r["traceparent"], e)
            for seq, r, e in zip(range(first, self.next_seq), rows, envelopes, strict=True)
        ]

    def merge(self, state: TransactionState) -> None:
        """Remember what a committed transaction read and wrote."""
        if len(self.snapshots) + len(state.snapshots) > self.LIMIT:
            self.snapshots.clear()
            self.versions.clear()
        self.snapshots.update(state.snapshots)
        self.versions.update(state.versions)


class ConcurrencyError(Exception):
    """Another writer appended to the same stream (or saved the same snapshot) first; retry."""


@dataclass(frozen=True)
class Snapshot:
    """A stream's folded state at `version`, and the business date it next wakes on."""

    stream_id: str
    version: int
    state: dict[str, Any]
    wake_on: date | None


@dataclass
class _Saved:
    base: int  # the version in the table when this transaction first read it (0: no row)
    snapshot: Snapshot
    blob: str


@dataclass
class TransactionState:
    """Caches and buffers of one transaction on one service's tables (see the module docstring)."""

    session: AsyncSession
    tables: dict[str, Table]
    versions: dict[str, int] = field(default_factory=dict)
    snapshots: dict[str, Snapshot | None] = field(default_factory=dict)
    saved: dict[str, _Saved] = field(default_factory=dict)
    log_rows: list[dict[str, Any]] = field(default_factory=list)
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    outbox_envelopes: list[Envelope] = field(default_factory=list)
    written: list[OutboxMessage] = field(default_factory=list)
    # A service's own per-transaction caches (its repository), and what they must write before
    # the platform tables are written (run by `write`, in order).
    memo: dict[str, Any] = field(default_factory=dict)
    before_write: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Snapshots and stream versions as committed by earlier transactions of the one writer holding
    # the database (Database.held): read before the table, never written here (the runtime merges
    # a transaction's reads and saves after it commits, so a rolled-back batch leaves no trace).
    committed: HeldCache | None = None

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL (batched statements); False on the embedded SQLite (point statements)."""
        return self.session.get_bind().dialect.name == "postgresql"

    # -- reads -------------------------------------------------------------------------------
    async def prefetch(self, stream_ids: list[str]) -> None:
        """Read the snapshots and log versions of `stream_ids` in one query each (PostgreSQL only)."""
        ids = [s for s in dict.fromkeys(stream_ids) if s not in self.snapshots]
        if not ids or not self.postgres:
            return
        rows = await self.session.execute(
            text(
                "SELECT stream_id, version, state, wake_on FROM snapshots "
                "WHERE stream_id = ANY(CAST(:ids AS varchar[]))"
            ),
            {"ids": ids},
        )
        found = {r[0]: Snapshot(r[0], int(r[1]), json_rows.loads(r[2]), r[3]) for r in rows}
        for sid in ids:
            self.snapshots[sid] = found.get(sid)
        await self.stream_versions(ids)

    async def load(self, stream_id: str) -> Snapshot | None:
        """The snapshot of `stream_id` as this transaction sees it (None when there is none)."""
        if stream_id in self.snapshots:
            return self.snapshots[stream_id]
        if self.committed is not None and stream_id in self.committed.snapshots:
            cached = self.snapshots[stream_id] = self.committed.snapshots[stream_id]
            return cached
        query = statement(
            self.tables["snapshots"],
            "load",
            lambda t: select(t.c.version, t.c.state, t.c.wake_on).where(
                t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type)
            ),
        )
        row = await fetch_one(self.session, query, {"b_stream": stream_id})
        found = None if row is None else Snapshot(stream_id, int(row[0]), json_rows.loads(row[1]), row[2])
        self.snapshots[stream_id] = found
        return found

    async def load_many(self, stream_ids: list[str]) -> dict[str, Snapshot]:
        """The snapshots of `stream_ids` that exist (one query for those not read yet)."""
        missing = [s for s in dict.fromkeys(stream_ids) if s not in self.snapshots]
        if missing and self.committed is not None:
            known = self.committed.snapshots
            for sid in [s for s in missing if s in known]:
                self.snapshots[sid] = known[sid]
            missing = [s for s in missing if s not in known]
        if missing:
            t = self.tables["snapshots"]
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                rows = await self.session.execute(
                    select(t.c.stream_id, t.c.version, t.c.state, t.c.wake_on).where(t.c.stream_id.in_(chunk))
                )
                found = {r[0]: Snapshot(r[0], int(r[1]), json_rows.loads(r[2]), r[3]) for r in rows}
                for sid in chunk:
                    self.snapshots[sid] = found.get(sid)
        out: dict[str, Snapshot] = {}
        for sid in stream_ids:
            snap = self.snapshots.get(sid)
            if snap is not None:
                out[sid] = snap
        return out

    async def stream_version(self, stream_id: str) -> int:
        """The version of the newest log event of `stream_id` (0 when empty), buffered appends included."""
        if stream_id in self.versions:
            return self.versions[stream_id]
        if self.committed is not None and stream_id in self.committed.versions:
            cached = self.versions[stream_id] = self.committed.versions[stream_id]
            return cached
        query = statement(
            self.tables["events"],
            "stream_version",
            lambda t: select(func.max(t.c.version)).where(
                t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type)
            ),
        )
        value = await fetch_scalar(self.session, query, {"b_stream": stream_id})
        self.versions[stream_id] = int(value or 0)
        return self.versions[stream_id]

    async def stream_versions(self, stream_ids: list[str]) -> None:
        """Know the versions of `stream_ids` (one grouped query per 500 on PostgreSQL)."""
        missing = [s for s in dict.fromkeys(stream_ids) if s not in self.versions]
        if not missing:
            return
        if not self.postgres:
            for sid in missing:
                await self.stream_version(sid)
            return
        rows = await self.session.execute(
            text(
                "SELECT stream_id, max(version) FROM events WHERE stream_id = ANY(CAST(:ids AS varchar[])) "
                "GROUP BY stream_id"
            ),
            {"ids": missing},
        )
        found = {r[0]: int(r[1]) for r in rows}
        for sid in missing:
            self.versions[sid] = found.get(sid, 0)

    # -- buffered writes ---------------------------------------------------------------------
    async def save(self, stream_id: str, state: dict[str, Any], *, expected_version: int, wake_on: date | None) -> int:
        """Buffer `state` as version `expected_version + 1`. Raises ConcurrencyError on a stale version."""
        current = self.snapshots.get(stream_id) if stream_id in self.snapshots else await self.load(stream_id)
        version = current.version if current is not None else 0
        if version != expected_version:
            raise ConcurrencyError(f"snapshot {stream_id} is at version {version}, not {expected_version}")
        blob = json_rows.dumps(state, sort_keys=True)
        snapshot = Snapshot(stream_id, expected_version + 1, state, wake_on)
        earlier = self.saved.get(stream_id)
        base = earlier.base if earlier is not None else version
        self.saved[stream_id] = _Saved(base, snapshot, blob)
        self.snapshots[stream_id] = snapshot
        return snapshot.version

    def append_log(self, rows: list[dict[str, Any]], stream_id: str, version: int) -> None:
        """Buffer event-log rows; `version` is the stream's version after them."""
        self.log_rows.extend(rows)
        self.versions[stream_id] = version

    def add_outbox(self, rows: list[dict[str, Any]], envelopes: list[Envelope]) -> None:
        """Buffer outbox rows (in emit order) with their envelopes."""
        self.outbox_rows.extend(rows)
        self.outbox_envelopes.extend(envelopes)

    async def write(self) -> None:
        """Write everything buffered: snapshots, then the event log, then the outbox (in emit order).

        Raises ConcurrencyError when a snapshot or a log version was taken by another writer.
        """
        for write_own in self.before_write:
            await write_own()
        await self.write_snapshots()
        await self.write_log()
        if self.outbox_rows:
            if self.committed is not None and self.committed.outbox_bypass:
                self.written.extend(self.committed.outbox_messages(self.outbox_rows, self.outbox_envelopes))
            else:
                self.written.extend(
                    await write_outbox(self.session, self.tables["outbox"], self.outbox_rows, self.outbox_envelopes)
                )
            self.outbox_rows, self.outbox_envelopes = [], []

    async def write_snapshots(self) -> None:
        """Write the buffered snapshots (one insert and one update statement on PostgreSQL)."""
        if not self.saved:
            return
        saved, self.saved = list(self.saved.values()), {}
        new = [s for s in saved if s.base == 0]
        moved = [s for s in saved if s.base != 0]
        if self.postgres:
            await self._write_snapshots_postgres(new, moved)
        else:
            await self._write_snapshots_sqlite(new, moved)

    async def write_log(self) -> None:
        """Insert the buffered event-log rows (one statement). Raises ConcurrencyError on a taken version."""
        if not self.log_rows:
            return
        rows, self.log_rows = self.log_rows, []
        try:
            if self.postgres:
                await self.session.execute(
                    text(
                        "INSERT INTO events (stream_id, version, event_id, type, time, data) SELECT * FROM unnest("
                        "CAST(:s AS varchar[]), CAST(:v AS int[]), CAST(:i AS varchar[]), CAST(:t AS varchar[]), "
                        "CAST(:ti AS varchar[]), CAST(:d AS text[]))"
                    ),
                    {k: [r[c] for r in rows] for k, c in _LOG_COLUMNS},
                )
            else:
                await execute(self.session, statement(self.tables["events"], "insert", insert), rows)
        except IntegrityError as exc:
            raise ConcurrencyError("another writer appended to one of these streams first") from exc

    async def _write_snapshots_postgres(self, new: list[_Saved], moved: list[_Saved]) -> None:
        if new:
            result = await self.session.execute(
                text(
                    "INSERT INTO snapshots (stream_id, version, state, wake_on) SELECT * FROM unnest("
                    "CAST(:s AS varchar[]), CAST(:v AS int[]), CAST(:st AS text[]), CAST(:w AS date[])) "
                    "ON CONFLICT DO NOTHING RETURNING stream_id"
                ),
                _snapshot_arrays(new),
            )
            if len(result.all()) != len(new):
                raise ConcurrencyError("a snapshot was created concurrently")
        if moved:
            result = await self.session.execute(
                text(
                    "UPDATE snapshots AS s SET version = u.v, state = u.st, wake_on = u.w FROM unnest("
                    "CAST(:s AS varchar[]), CAST(:b AS int[]), CAST(:v AS int[]), CAST(:st AS text[]), "
                    "CAST(:w AS date[])) AS u(s, b, v, st, w) WHERE s.stream_id = u.s AND s.version = u.b "
                    "RETURNING s.stream_id"
                ),
                {**_snapshot_arrays(moved), "b": [m.base for m in moved]},
            )
            if len(result.all()) != len(moved):
                raise ConcurrencyError("a snapshot moved past the version this transaction read")

    async def _write_snapshots_sqlite(self, new: list[_Saved], moved: list[_Saved]) -> None:
        t = self.tables["snapshots"]
        if new:
            rows = [
                {
                    "stream_id": s.snapshot.stream_id,
                    "version": s.snapshot.version,
                    "state": s.blob,
                    "wake_on": s.snapshot.wake_on,
                }
                for s in new
            ]
            try:
                await execute(self.session, statement(t, "insert", insert), rows)
            except IntegrityError as exc:
                raise ConcurrencyError("a snapshot was created concurrently") from exc
        query = statement(
            t,
            "save",
            lambda t: (
                update(t)
                .where(
                    t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type),
                    t.c.version == bindparam("b_expected", type_=t.c.version.type),
                )
                .values(
                    version=bindparam("b_version", type_=t.c.version.type),
                    state=bindparam("b_state", type_=t.c.state.type),
                    wake_on=bindparam("b_wake_on", type_=t.c.wake_on.type),
                )
            ),
        )
        for m in moved:
            matched = await execute(
                self.session,
                query,
                {
                    "b_stream": m.snapshot.stream_id,
                    "b_expected": m.base,
                    "b_version": m.snapshot.version,
                    "b_state": m.blob,
                    "b_wake_on": m.snapshot.wake_on,
                },
            )
            if matched != 1:
                raise ConcurrencyError(f"snapshot {m.snapshot.stream_id} moved past version {m.base}")

    async def waking(self, on_or_before: date) -> list[str]:
        """Streams whose `wake_on` is on or before `on_or_before`, in stream order (buffered saves written first)."""
        await self.write_snapshots()
        t = self.tables["snapshots"]
        query = statement(
            t,
            "waking",
            lambda t: (
                select(t.c.stream_id)
                .where(t.c.wake_on <= bindparam("b_date", type_=t.c.wake_on.type))
                .order_by(t.c.stream_id)
            ),
        )
        return [stream_id for (stream_id,) in await fetch_all(self.session, query, {"b_date": on_or_before})]


_LOG_COLUMNS = (("s", "stream_id"), ("v", "version"), ("i", "event_id"), ("t", "type"), ("ti", "time"), ("d", "data"))


def _snapshot_arrays(saved: list[_Saved]) -> dict[str, list[Any]]:
    return {
        "s": [s.snapshot.stream_id for s in saved],
        "v": [s.snapshot.version for s in saved],
        "st": [s.blob for s in saved],
        "w": [s.snapshot.wake_on for s in saved],
    }
