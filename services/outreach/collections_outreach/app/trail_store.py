"""Reading and appending the contact trail (`contact_trail` table); verifying an account's chain.

Only INSERT and SELECT: the database refuses anything else on this table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.audit_chain import ChainVerdict, verify_chain
from collections_events.outbound import ContactRecorded
from collections_events.store.statements import execute
from collections_events.store.uow import UnitOfWork
from collections_outreach.app.tables import TRAIL

FIELDS = tuple(ContactRecorded.model_fields)
"""The columns of a trail record: exactly the fields of `outreach.contact_recorded`, in its order."""
OPTIONAL_FIELDS = ("agency_id",)
"""Fields only some records have (an agency's result): a null column means the key is absent."""

_APPEND = insert(TRAIL)


def append_record(uow: UnitOfWork, record: dict[str, Any]) -> None:
    """Append one record (the data of an `outreach.contact_recorded`) to the account's trail.

    Buffered for the batch and inserted in order with one executemany before its commit (issue 14):
    nothing reads the trail while handling; the API and the audit read it in their own transactions.
    """
    pending: list[dict[str, Any]] | None = uow.state.memo.get(_PENDING)
    if pending is None:
        pending = uow.state.memo[_PENDING] = []
        uow.state.before_write.append(lambda: _write(uow.session, pending))
    pending.append({k: record.get(k) for k in FIELDS})


_PENDING = "outreach.trail"


async def _write(session: AsyncSession, pending: list[dict[str, Any]]) -> None:
    if pending:
        rows, pending[:] = list(pending), []
        await execute(session, _APPEND, rows)


async def read_trail(session: AsyncSession, account_id: str) -> list[dict[str, Any]]:
    """The account's records, oldest first, with exactly the fields of `outreach.contact_recorded`
    each record was made with (no `agency_id` key on the lender's own records)."""
    rows = await session.execute(
        select(*(TRAIL.c[k] for k in FIELDS)).where(TRAIL.c.account_id == account_id).order_by(TRAIL.c.sequence)
    )
    records = []
    for row in rows:
        record = dict(row._mapping)
        for key in OPTIONAL_FIELDS:
            if record.get(key) is None:
                record.pop(key, None)
        records.append(record)
    return records


async def verify_trail(session: AsyncSession, account_id: str) -> ChainVerdict:
    """Recompute the account's chain; the verdict names the first record that does not match."""
    return verify_chain(await read_trail(session, account_id))
