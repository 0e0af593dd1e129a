"""The last closed business date moves from `delinquency_clock` into the `$clock` snapshot (issue 18).

Revision ID: 0002_clock_snapshot

Every service keeps its clock the same way (collections_events.store.clock, decision 0008). The
snapshot is written even before the first close (`{"last_closed": null}`), so the row the clock's
locks take always exists, as the table's one row did: a close and a balance change on two replicas
never interleave, first close included.
"""

import json
from datetime import date

from alembic import op
from sqlalchemy import Column, Date, Integer, MetaData, Table, insert, select

from collections_events.store.clock import CLOCK_STREAM

revision = "0002_clock_snapshot"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tables() -> tuple[Table, Table]:
    metadata = MetaData()
    clock = Table(
        "delinquency_clock",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("last_closed", Date, nullable=True),
    )
    snapshots = Table("snapshots", metadata, autoload_with=op.get_bind())
    return clock, snapshots


def upgrade() -> None:
    clock, snapshots = _tables()
    bind = op.get_bind()
    closed = bind.execute(select(clock.c.last_closed).where(clock.c.id == 1)).scalar()
    state = {"last_closed": closed.isoformat() if closed is not None else None}
    blob = json.dumps(state, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    bind.execute(insert(snapshots).values(stream_id=CLOCK_STREAM, version=1, state=blob, wake_on=None))
    clock.drop(bind)


def downgrade() -> None:
    clock, snapshots = _tables()
    bind = op.get_bind()
    blob = bind.execute(select(snapshots.c.state).where(snapshots.c.stream_id == CLOCK_STREAM)).scalar()
    closed = json.loads(blob).get("last_closed") if blob is not None else None
    clock.create(bind)
    bind.execute(insert(clock).values(id=1, last_closed=date.fromisoformat(closed) if closed else None))
    bind.execute(snapshots.delete().where(snapshots.c.stream_id == CLOCK_STREAM))
