"""The unit of work a handler gets: its service's tables in one transaction, and what it publishes.

A handler reads and writes state through it and calls `emit`; the runner calls `flush` before the
commit, so the service's events, its outbox rows and the inbox row commit together or not at all
(architecture.md: consumer → handler → own event store + outbox, one DB transaction).

The units of work of one batch share a TransactionState (store/transaction.py): reads are cached
for the batch and writes buffered until the runtime writes them, one statement per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.ids import derive_id
from collections_events.metrics import PlatformMetrics
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.rejection import rejection_envelope
from collections_events.store import json_rows
from collections_events.store.outbox import encode_envelope, outbox_row, write_outbox
from collections_events.store.statements import fetch_all, statement
from collections_events.store.transaction import ConcurrencyError, Snapshot, TransactionState
from collections_events.telemetry import current_traceparent
from collections_events.validation import Rejection

__all__ = [
    "ConcurrencyError",
    "Snapshot",
    "StoredEvent",
    "UnitOfWork",
    "encode_envelope",
    "statement",
    "write_outbox",
]


@dataclass(frozen=True)
class StoredEvent:
    """One row of a service's event log."""

    stream_id: str
    version: int
    event_id: str
    type: str
    time: str
    data: dict[str, Any]


class UnitOfWork:
    """One handler invocation's view of its service's database and outbox.

    `cause` is the event being handled: every event emitted takes its id from the cause's id and a
    purpose (UUIDv5) and its `time` from the cause's `time`, so replays are byte-identical.
    `shared` is the batch's TransactionState; without one the unit of work has its own and
    `flush` writes it (an API read, a test).
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
        shared: TransactionState | None = None,
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
        self._own_state = shared is None
        self.state = shared if shared is not None else TransactionState(session, tables)
        # True in a service process: what it publishes is parented on its own `process` span. False in
        # the embedded default: the cause's traceparent is copied, so a replay stays byte-identical.
        self._span_context = span_context
        # The process's metrics for a handler's own gauges; None where the runtime records none.
        self.metrics = metrics

    @property
    def source(self) -> str:
        """The CloudEvents `source` of what this service publishes."""
        return f"collections/{self.service}"

    # -- event log -------------------------------------------------------------------------
    async def read_stream(self, stream_id: str) -> list[StoredEvent]:
        """Every event of `stream_id`, oldest first (this transaction's buffered appends included)."""
        await self.state.write_log()
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
        events = [StoredEvent(stream_id, v, i, ty, ti, json_rows.loads(d)) for v, i, ty, ti, d in rows]
        self.state.versions[stream_id] = events[-1].version if events else 0
        return events

    async def stream_version(self, stream_id: str) -> int:
        """The version of the newest event of `stream_id` (0 when empty)."""
        return await self.state.stream_version(stream_id)

    async def append(self, stream_id: str, expected_version: int, events: Sequence[Envelope]) -> int:
        """Append `events` after `expected_version`; returns the new version.

        Raises ConcurrencyError when the stream is already past `expected_version` in this
        transaction, or (when the batch is written) another writer took one of those versions.
        """
        if not events:
            return expected_version
        current = await self.state.stream_version(stream_id)
        if current != expected_version:
            raise ConcurrencyError(f"stream {stream_id} is at version {current}, not {expected_version}")
        rows = [_log_row(stream_id, expected_version + n, e) for n, e in enumerate(events, start=1)]
        self.state.append_log(rows, stream_id, expected_version + len(events))
        if self._own_state:
            await self.state.write_log()
        return expected_version + len(events)

    # -- snapshots -------------------------------------------------------------------------
    async def load(self, stream_id: str) -> Snapshot | None:
        """The snapshot of `stream_id`, or None when there is none yet."""
        return await self.state.load(stream_id)

    async def load_many(self, stream_ids: list[str]) -> dict[str, Snapshot]:
        """The snapshots of `stream_ids` that exist, by stream id (one query for those not read yet)."""
        return await self.state.load_many(stream_ids)

    async def save(self, stream_id: str, state: dict[str, Any], *, expected_version: int, wake_on: date | None) -> int:
        """Store `state` as version `expected_version + 1`. Raises ConcurrencyError on a lost race."""
        version = await self.state.save(stream_id, state, expected_version=expected_version, wake_on=wake_on)
        if self._own_state:
            await self.state.write_snapshots()
        return version

    async def waking(self, on_or_before: date) -> list[str]:
        """Streams whose `wake_on` is on or before `on_or_before`, in stream order (indexed)."""
        return await self.state.waking(on_or_before)

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

        In a batch this only buffers them (the runtime writes the batch before its commit); a unit
        of work of its own writes them now. Raises ConcurrencyError when another writer took a
        version, OutboxRowTooLarge (store/outbox.py) for an event too large to publish.
        """
        if not self._emitted:
            return
        by_stream: dict[str, list[Envelope]] = {}
        for _, envelope in self._emitted:
            by_stream.setdefault(envelope.subject, []).append(envelope)
        rows = [outbox_row(topic, envelope) for topic, envelope in self._emitted]
        await self.state.stream_versions(list(by_stream))
        for stream_id, envelopes in by_stream.items():
            version = self.state.versions[stream_id]
            log_rows = [_log_row(stream_id, version + n, e) for n, e in enumerate(envelopes, start=1)]
            self.state.append_log(log_rows, stream_id, version + len(envelopes))
        self.state.add_outbox(rows, [e for _, e in self._emitted])
        self._emitted.clear()
        if self._own_state:
            await self.state.write()


def _log_row(stream_id: str, version: int, envelope: Envelope) -> dict[str, Any]:
    return {
        "stream_id": stream_id,
        "version": version,
        "event_id": envelope.id,
        "type": envelope.type,
        "time": envelope.time,
        "data": json_rows.dumps(envelope.data),
    }
