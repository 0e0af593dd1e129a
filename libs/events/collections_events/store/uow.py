"""The unit of work a handler gets: its service's tables in one transaction, and what it publishes.

A handler reads and writes state through it and calls `emit`; the runner calls `flush` before the
commit, so the service's events, its outbox rows and the inbox row commit together or not at all
(architecture.md: consumer → handler → own event store + outbox, one DB transaction).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.ids import derive_id
from collections_events.metrics import PlatformMetrics
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.rejection import rejection_envelope
from collections_events.store.statements import execute, fetch_all, fetch_one, fetch_scalar, inline_connection
from collections_events.telemetry import current_traceparent
from collections_events.validation import Rejection

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


class ConcurrencyError(Exception):
    """Another writer appended to the same stream (or saved the same snapshot) first; retry."""


@dataclass(frozen=True)
class StoredEvent:
    """One row of a service's event log."""

    stream_id: str
    version: int
    event_id: str
    type: str
    time: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A stream's folded state at `version`, and the business date it next wakes on."""

    stream_id: str
    version: int
    state: dict[str, Any]
    wake_on: date | None


class UnitOfWork:
    """One handler invocation's view of its service's database and outbox.

    `cause` is the event being handled: every event emitted takes its id from the cause's id and a
    purpose (UUIDv5) and its `time` from the cause's `time`, so replays are byte-identical.
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        service: str,
        tables: dict[str, Table],
        config: PlatformConfig,
        cause: Envelope | None,
        cause_line: int | None = None,
        outbox_buffer: list[dict[str, Any]] | None = None,
        span_context: bool = False,
        metrics: PlatformMetrics | None = None,
    ) -> None:
        self.session = session
        self.cause_line = cause_line
        self.service = service
        self.config = config
        self.cause = cause
        self._t = tables
        self._emitted: list[tuple[str, Envelope]] = []
        # Rows for the outbox; when the runtime passes a buffer, it inserts a whole batch's rows at once.
        self._outbox_buffer = outbox_buffer
        # True in a service process: what it publishes is parented on its own `process` span. False in
        # the embedded default: the cause's traceparent is copied, so a replay stays byte-identical.
        self._span_context = span_context
        # The process's metrics for a handler's own gauges; None where the runtime records none.
        self.metrics = metrics
        # The newest version of each stream this unit of work has read or written (saves a query).
        self._versions: dict[str, int] = {}

    @property
    def source(self) -> str:
        """The CloudEvents `source` of what this service publishes."""
        return f"collections/{self.service}"

    # -- event log -------------------------------------------------------------------------
    async def read_stream(self, stream_id: str) -> list[StoredEvent]:
        """Every event of `stream_id`, oldest first."""
        query = statement(
            self._t["events"],
            "read_stream",
            lambda t: (
                select(t.c.version, t.c.event_id, t.c.type, t.c.time, t.c.data)
                .where(t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type))
                .order_by(t.c.version)
            ),
        )
        rows = await fetch_all(self.session, query, {"b_stream": stream_id})
        events = [StoredEvent(stream_id, v, i, ty, ti, json.loads(d)) for v, i, ty, ti, d in rows]
        self._versions[stream_id] = events[-1].version if events else 0
        return events

    async def _load_versions(self, stream_ids: list[str]) -> None:
        if await inline_connection(self.session) is not None:
            # On the embedded SQLite a point query per stream costs microseconds; IN lists only pay
            # off where each statement is a network round trip.
            for sid in stream_ids:
                await self.stream_version(sid)
            return
        t = self._t["events"]
        query = statement(
            t,
            "stream_versions",
            lambda t: (
                select(t.c.stream_id, func.max(t.c.version))
                .where(t.c.stream_id.in_(bindparam("b_streams", expanding=True, type_=t.c.stream_id.type)))
                .group_by(t.c.stream_id)
            ),
        )
        for start in range(0, len(stream_ids), 500):
            chunk = stream_ids[start : start + 500]
            found = {sid: int(v) for sid, v in await self.session.execute(query, {"b_streams": chunk})}
            for sid in chunk:
                self._versions[sid] = found.get(sid, 0)

    async def stream_version(self, stream_id: str) -> int:
        """The version of the newest event of `stream_id` (0 when empty)."""
        if stream_id in self._versions:
            return self._versions[stream_id]
        query = statement(
            self._t["events"],
            "stream_version",
            lambda t: select(func.max(t.c.version)).where(
                t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type)
            ),
        )
        value = await fetch_scalar(self.session, query, {"b_stream": stream_id})
        self._versions[stream_id] = int(value or 0)
        return self._versions[stream_id]

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        """Append `events` after `expected_version`; returns the new version.

        Raises ConcurrencyError when another writer already took one of those versions (or an
        event id is already in the log).
        """
        if not events:
            return expected_version
        rows = [_log_row(stream_id, expected_version + n, e) for n, e in enumerate(events, start=1)]
        # No savepoint: a conflict aborts the whole unit of work, and the runner retries it whole.
        try:
            await self._insert_log_rows(rows)
        except IntegrityError as exc:
            raise ConcurrencyError(f"stream {stream_id} moved past version {expected_version}") from exc
        self._versions[stream_id] = expected_version + len(events)
        return expected_version + len(events)

    # -- snapshots -------------------------------------------------------------------------
    async def load(self, stream_id: str) -> Snapshot | None:
        """The snapshot of `stream_id`, or None when there is none yet."""
        query = statement(
            self._t["snapshots"],
            "load",
            lambda t: select(t.c.version, t.c.state, t.c.wake_on).where(
                t.c.stream_id == bindparam("b_stream", type_=t.c.stream_id.type)
            ),
        )
        row = await fetch_one(self.session, query, {"b_stream": stream_id})
        if row is None:
            return None
        version, state, wake_on = row
        return Snapshot(stream_id, version, json.loads(state), wake_on)

    async def save(self, stream_id: str, state: dict[str, Any], *, expected_version: int, wake_on: date | None) -> int:
        """Store `state` as version `expected_version + 1`. Raises ConcurrencyError on a lost race."""
        t = self._t["snapshots"]
        blob = json.dumps(state, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if expected_version == 0:
            try:
                await execute(
                    self.session,
                    statement(t, "insert", insert),
                    {"stream_id": stream_id, "version": 1, "state": blob, "wake_on": wake_on},
                )
            except IntegrityError as exc:
                raise ConcurrencyError(f"snapshot {stream_id} was created concurrently") from exc
            return 1
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
        matched = await execute(
            self.session,
            query,
            {
                "b_stream": stream_id,
                "b_expected": expected_version,
                "b_version": expected_version + 1,
                "b_state": blob,
                "b_wake_on": wake_on,
            },
        )
        if matched != 1:
            raise ConcurrencyError(f"snapshot {stream_id} moved past version {expected_version}")
        return expected_version + 1

    async def _insert_log_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows of the service's event log (`_log_row`). Raises IntegrityError on a taken version."""
        await execute(self.session, statement(self._t["events"], "insert", insert), rows)

    async def waking(self, on_or_before: date) -> list[str]:
        """Streams whose `wake_on` is on or before `on_or_before`, in stream order (indexed)."""
        t = self._t["snapshots"]
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

    # -- publishing ------------------------------------------------------------------------
    def emit(self, type_name: str, data: BaseModel, *, purpose: str, subject: str | None = None) -> Envelope:
        """Publish `data` as a `type_name` event caused by the current cause (through the outbox).

        The id is UUIDv5(cause id, purpose): the purpose must be unique among this cause's events.
        Raises KeyError for a type not in the contract, TypeError for data of the wrong model.
        """
        entry = EVENT_TYPES[type_name]
        if not isinstance(data, entry.model):
            raise TypeError(f"{type_name} needs {entry.model.__name__}, got {type(data).__name__}")
        if self.cause is None:
            raise RuntimeError("emit needs a cause; use emit_envelope for an event built without one")
        payload = data.model_dump(mode="json")
        envelope = Envelope(
            id=derive_id(self.cause.id, purpose),
            source=self.source,
            type=type_name,
            subject=subject or payload.get("account_id") or self.cause.subject,
            time=self.cause.time,
            data=payload,
            traceparent=(current_traceparent() if self._span_context else None) or self.cause.traceparent,
        )
        self._emitted.append((entry.topic, envelope))
        return envelope

    def reject(self, reason: str) -> Envelope:
        """Answer the cause with `system.event_rejected` (a business rule refused it; it changes nothing)."""
        if self.cause is None:
            raise RuntimeError("reject needs a cause")
        c = self.cause
        envelope = rejection_envelope(
            Rejection(reason=reason, event_id=c.id, type=c.type, subject=c.subject, time=c.time),
            source=self.source,
            position=c.id,
            line=self.cause_line,
        )
        self.emit_envelope(envelope)
        return envelope

    def emit_envelope(self, envelope: Envelope) -> None:
        """Publish an envelope built elsewhere (e.g. a rejection of an unreadable message)."""
        self._emitted.append((EVENT_TYPES[envelope.type].topic, envelope))

    @property
    def emitted(self) -> list[Envelope]:
        """What this unit of work has emitted so far, in order."""
        return [e for _, e in self._emitted]

    async def flush(self) -> None:
        """Append emitted events to the service's log and the outbox, in emit order.

        Batched: one version lookup per 500 streams not yet known to this unit of work and one
        insert for all log rows, so a day close that moves thousands of accounts costs a few round
        trips, not two per account. Raises ConcurrencyError when another writer took a version.
        """
        if not self._emitted:
            return
        by_stream: dict[str, list[Envelope]] = {}
        for _, envelope in self._emitted:
            by_stream.setdefault(envelope.subject, []).append(envelope)
        await self._load_versions([s for s in by_stream if s not in self._versions])
        log_rows = []
        for stream_id, envelopes in by_stream.items():
            version = self._versions[stream_id]
            for n, e in enumerate(envelopes, start=1):
                log_rows.append(_log_row(stream_id, version + n, e))
            self._versions[stream_id] = version + len(envelopes)
        try:
            await self._insert_log_rows(log_rows)
        except IntegrityError as exc:
            raise ConcurrencyError("another writer appended to one of these streams first") from exc
        rows = [
            {
                "topic": topic,
                "key": envelope.subject,
                "event": encode_envelope(envelope),
                "traceparent": envelope.traceparent,
                "sent": False,
            }
            for topic, envelope in self._emitted
        ]
        if self._outbox_buffer is not None:
            self._outbox_buffer.extend(rows)
        else:
            await write_outbox(self.session, self._t["outbox"], rows)
        self._emitted.clear()


def _log_row(stream_id: str, version: int, envelope: Envelope) -> dict[str, Any]:
    return {
        "stream_id": stream_id,
        "version": version,
        "event_id": envelope.id,
        "type": envelope.type,
        "time": envelope.time,
        "data": json.dumps(envelope.data, ensure_ascii=False, separators=(",", ":")),
    }


async def write_outbox(session: AsyncSession, outbox: Table, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in order, in the caller's transaction.

    On PostgreSQL the table is locked first (EXCLUSIVE, until commit) so that `seq` order is commit
    order: a relay that reads by `seq` then never publishes a later commit before an earlier one.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"LOCK TABLE {outbox.name} IN EXCLUSIVE MODE"))
    await execute(session, statement(outbox, "insert", insert), rows)


def encode_envelope(envelope: Envelope) -> str:
    """The structured-mode JSON of `envelope`: one line, non-ASCII kept, attribute order fixed."""
    return json.dumps(envelope.to_structured(), ensure_ascii=False, separators=(",", ":"))
