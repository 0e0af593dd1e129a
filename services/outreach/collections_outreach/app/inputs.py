"""The log of what outreach handled (`handled_inputs`): the events an explanation is recomputed from.

One row per account event handled (an inbound event of that account, a delinquency or legal event)
and per close (account `$clock`), in handling order, as the structured-mode envelope. Explanations
(app/explain.py) feed them again to the same handler on a scratch database.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.registry import EVENT_TYPES
from collections_events.store.clock import CLOCK_STREAM
from collections_events.store.statements import execute
from collections_events.store.uow import UnitOfWork, encode_envelope
from collections_events.validation import Event
from collections_outreach.app.tables import INPUTS

CLOCK = CLOCK_STREAM
_INSERT = insert(INPUTS)


_PENDING = "outreach.handled_inputs"


def log_input(uow: UnitOfWork, event: Event, account_id: str) -> None:
    """Keep `event` (handled for `account_id`, or `$clock` for a close) in handling order.

    Buffered for the batch and inserted with one executemany before its commit (nothing reads the
    log while handling: explanations read it in their own transaction).
    """
    pending: list[dict[str, str]] | None = uow.state.memo.get(_PENDING)
    if pending is None:
        pending = uow.state.memo[_PENDING] = []
        uow.state.before_write.append(lambda: _write(uow, pending))
    row = {
        "account_id": account_id,
        "topic": EVENT_TYPES[event.type].topic,
        "envelope": encode_envelope(event.envelope),
    }
    pending.append(row)


async def _write(uow: UnitOfWork, pending: list[dict[str, str]]) -> None:
    if pending:
        rows, pending[:] = list(pending), []
        await execute(uow.session, _INSERT, rows)


async def read_inputs(session: AsyncSession, account_id: str) -> list[tuple[str, str, str]]:
    """(account_id, topic, structured JSON) of the account's handled events and every close, in order."""
    found: list[tuple[int, str, str, str]] = []
    for owner in (account_id, CLOCK):  # two indexed reads (an OR would scan the table)
        rows = await session.execute(
            select(INPUTS.c.seq, INPUTS.c.account_id, INPUTS.c.topic, INPUTS.c.envelope).where(
                INPUTS.c.account_id == owner
            )
        )
        found.extend((r.seq, r.account_id, r.topic, r.envelope) for r in rows)
    return [(owner, topic, raw) for _, owner, topic, raw in sorted(found)]
