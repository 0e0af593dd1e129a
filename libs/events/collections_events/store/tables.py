"""The tables every service keeps beside its own (docs/decisions/0002-store-layout.md).

- `events`: the service's append-only event log; primary key (stream_id, version) is the
  optimistic lock: two writers of one stream at the same version, one wins, one gets a conflict.
- `outbox`: events to publish, written in the handler's transaction, relayed in `seq` order.
- `inbox`: (consumer, event_id) of every event handled: a redelivery hits the key and is skipped.
- `snapshots`: a service's folded state per stream, with `wake_on`, the business date on which the
  stream next needs a day close's attention (indexed, so a close touches only those streams).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT identity.
SEQUENCE_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def platform_tables(metadata: MetaData) -> dict[str, Table]:
    """Add the shared tables to a service's `metadata` and return them by name."""
    events = Table(
        "events",
        metadata,
        Column("stream_id", String(200), primary_key=True),
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("event_id", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("time", String(64), nullable=False),
        Column("data", Text, nullable=False),
        UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", SEQUENCE_TYPE, primary_key=True, autoincrement=True),
        Column("topic", String(50), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event", Text, nullable=False),
        Column("traceparent", String(100), nullable=True),
        Column("sent", Boolean, nullable=False, default=False, index=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(200), primary_key=True),
    )
    snapshots = Table(
        "snapshots",
        metadata,
        Column("stream_id", String(200), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("state", Text, nullable=False),
        Column("wake_on", Date, nullable=True, index=True),
    )
    return {"events": events, "outbox": outbox, "inbox": inbox, "snapshots": snapshots}
