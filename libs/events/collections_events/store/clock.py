"""The last closed business day, as every service keeps it (behaviour.md, Time and order).

A service's "today" is the date of the last `day.closed` it applied, never a wall clock. It is kept
as the snapshot of the stream `$clock` in the service's own `snapshots` table (state
`{"last_closed": "YYYY-MM-DD"}`, no wake date), so it is read and written through the batch's
shared TransactionState like any other snapshot (docs/decisions/0007) and versioned like one: two
writers racing to close a day lose one to ConcurrencyError, never both win.

`lock` exists for a service whose other events must not interleave with a close on another replica
(delinquency's dpd is counted from the last close): `"share"` for an event that reads the date,
`"update"` for the close itself. On PostgreSQL it takes the row lock on the snapshot row, always
before any account row, so a close and a balance change never deadlock; on the embedded SQLite one
writer holds the database anyway and it does nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from sqlalchemy import text

from collections_events.store.uow import UnitOfWork

CLOCK_STREAM = "$clock"
"""The snapshot stream id of the clock (`$` cannot begin an account id the platform derives)."""

Lock = Literal["share", "update"]
_LOCKED = "collections_events.clock.locked"
_LOCK_SQL = {
    "share": "SELECT 1 FROM snapshots WHERE stream_id = :s FOR SHARE",
    "update": "SELECT 1 FROM snapshots WHERE stream_id = :s FOR UPDATE",
}


async def last_closed(uow: UnitOfWork, *, lock: Lock | None = None) -> date | None:
    """The last closed business date (a calendar date in no timezone), or None before the first close.

    `lock` takes the clock's row lock for the rest of the transaction (see the module docstring).
    """
    if lock is not None:
        await _lock(uow, lock)
    snapshot = await uow.load(CLOCK_STREAM)
    if snapshot is None or not snapshot.state.get("last_closed"):
        return None
    return date.fromisoformat(snapshot.state["last_closed"])


async def close_day(uow: UnitOfWork, on: date, *, lock: bool = False) -> bool:
    """Record business date `on` as closed when it is after the last closed one.

    Returns False (and changes nothing) for a close at or before the last one, which behaviour.md
    (Time and order) says is ignored. Raises ConcurrencyError when another writer closed first.
    `lock` takes the clock row FOR UPDATE first (PostgreSQL).
    """
    previous = await last_closed(uow, lock="update" if lock else None)
    if previous is not None and on <= previous:
        return False
    snapshot = await uow.load(CLOCK_STREAM)
    await uow.save(
        CLOCK_STREAM,
        {"last_closed": on.isoformat()},
        expected_version=snapshot.version if snapshot else 0,
        wake_on=None,
    )
    return True


async def _lock(uow: UnitOfWork, lock: Lock) -> None:
    held: set[str] = uow.state.memo.setdefault(_LOCKED, set())
    if lock in held or "update" in held or not uow.state.postgres:
        return
    await uow.session.execute(text(_LOCK_SQL[lock]), {"s": CLOCK_STREAM})
    held.add(lock)
