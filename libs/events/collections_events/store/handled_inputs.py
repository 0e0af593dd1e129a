"""A service's log of what it handled per account (`handled_inputs`): what an explanation refolds.

One row per account event handled (an inbound event of that account, another service's event about
it, an agent's command) and per close (owner `$clock`), in handling order (`seq`), as the
structured-mode envelope. Explanations (outreach's app/explain.py, legal's app/referral_explain.py)
feed the rows again to the same handler on a scratch database (runtime/scratch.py), so an
explanation is recomputed from events, never stored beside them (behaviour.md, Explanations).
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.store.clock import CLOCK_STREAM
from collections_events.store.statements import execute
from collections_events.store.tables import SEQUENCE_TYPE
from collections_events.store.uow import UnitOfWork, encode_envelope

InputRow = tuple[str, str, str]
"""(owner: an account id or `$clock`, topic key, structured-mode JSON of the envelope)."""


def handled_inputs_table(meta: MetaData) -> Table:
    """The `handled_inputs` table on `meta` (owner `account_id`, in handling order `seq`)."""
    return Table(
        "handled_inputs",
        meta,
        Column("seq", SEQUENCE_TYPE, primary_key=True, autoincrement=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("topic", String(50), nullable=False),
        Column("envelope", Text, nullable=False),
    )


class HandledInputs:
    """Writes and reads one service's `handled_inputs` table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._insert = insert(table)
        self._pending_key = f"{table.name}.pending"

    def log(self, uow: UnitOfWork, envelope: Envelope, owner: str) -> None:
        """Keep the event `envelope`, handled for account `owner` (or `$clock` for a close), in handling order.

        Buffered for the batch and inserted with one executemany before its commit (nothing reads
        the log while handling: explanations read it in their own transaction).
        """
        pending: list[dict[str, str]] | None = uow.state.memo.get(self._pending_key)
        if pending is None:
            pending = uow.state.memo[self._pending_key] = []
            uow.state.before_write.append(lambda: self._write(uow, pending))
        pending.append(
            {"account_id": owner, "topic": EVENT_TYPES[envelope.type].topic, "envelope": encode_envelope(envelope)}
        )

    async def _write(self, uow: UnitOfWork, pending: list[dict[str, str]]) -> None:
        if pending:
            rows, pending[:] = list(pending), []
            await execute(uow.session, self._insert, rows)

    async def read(self, session: AsyncSession, account_id: str) -> list[InputRow]:
        """The account's handled events and every close, in handling order."""
        t = self.table
        found: list[tuple[int, str, str, str]] = []
        for owner in (account_id, CLOCK_STREAM):  # two indexed reads (an OR would scan the table)
            rows = await session.execute(
                select(t.c.seq, t.c.account_id, t.c.topic, t.c.envelope).where(t.c.account_id == owner)
            )
            found.extend((r.seq, r.account_id, r.topic, r.envelope) for r in rows)
        return [(owner, topic, raw) for _, owner, topic, raw in sorted(found)]
