"""Legal's placements table (`legal_placements`) through one session: insert, recall, read, list.

Used by the handler (inside its unit of work) and by the API (read sessions). The table is a view of
the `legal.account_placed` / `legal.placement_recalled` events legal publishes, kept for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.store.statements import execute, fetch_one
from collections_events.store.uow import statement


@dataclass(frozen=True)
class PlacementRow:
    """One placement as stored: how it was placed and, once recalled, why and what was collected."""

    placement_id: str
    account_id: str
    agency_id: str
    placed_on: date
    dpd: int
    past_due_minor: int
    recall_on: date
    status: str
    recalled_on: date | None
    reason: str | None
    collected_minor: int | None
    commission_minor: int | None
    placed_event_id: str
    recalled_event_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The placement as the API shows it (dates ISO, money in minor units)."""
        out = asdict(self)
        for key in ("placed_on", "recall_on", "recalled_on"):
            value = out[key]
            out[key] = value.isoformat() if value else None
        return out


@dataclass(frozen=True)
class PlacementFilter:
    """Filters of the placement list (all optional; dates inclusive, on the placing close)."""

    agency_id: str | None = None
    status: str | None = None
    account_id: str | None = None
    placed_from: date | None = None
    placed_to: date | None = None


class PlacementRepository:
    """Reads and writes `legal_placements` on `session` (no commit: the caller's transaction)."""

    def __init__(self, session: AsyncSession, tables: Mapping[str, Table]) -> None:
        self.session = session
        self.table = tables["placements"]

    async def insert(self, row: PlacementRow) -> None:
        """Store a new open placement."""
        await execute(self.session, statement(self.table, "insert", insert), asdict(row))

    async def recall(
        self, placement_id: str, *, on: date, reason: str, collected_minor: int, commission_minor: int, event_id: str
    ) -> None:
        """Mark an open placement recalled at the close `on`."""
        t = self.table
        await self.session.execute(
            update(t)
            .where(t.c.placement_id == placement_id, t.c.status == "open")
            .values(
                status="recalled",
                recalled_on=on,
                reason=reason,
                collected_minor=collected_minor,
                commission_minor=commission_minor,
                recalled_event_id=event_id,
            )
        )

    async def get(self, placement_id: str) -> PlacementRow | None:
        """The placement `placement_id`, or None."""
        query = statement(
            self.table, "by_id", lambda t: select(t).where(t.c.placement_id == bindparam("b_placement_id"))
        )
        row = await fetch_one(self.session, query, {"b_placement_id": placement_id})
        return PlacementRow(**dict(zip(self.table.c.keys(), row, strict=True))) if row else None

    async def list(self, where: PlacementFilter, *, limit: int, offset: int) -> tuple[list[PlacementRow], int]:
        """One page of placements matching `where` (by placing date, account, id), and the total."""
        c = self.table.c
        conditions = []
        if where.agency_id is not None:
            conditions.append(c.agency_id == where.agency_id)
        if where.status is not None:
            conditions.append(c.status == where.status)
        if where.account_id is not None:
            conditions.append(c.account_id == where.account_id)
        if where.placed_from is not None:
            conditions.append(c.placed_on >= where.placed_from)
        if where.placed_to is not None:
            conditions.append(c.placed_on <= where.placed_to)
        total = await self.session.scalar(select(func.count()).select_from(self.table).where(*conditions))
        rows = await self.session.execute(
            select(self.table)
            .where(*conditions)
            .order_by(c.placed_on, c.account_id, c.placement_id)
            .limit(limit)
            .offset(offset)
        )
        return [PlacementRow(**r._mapping) for r in rows], int(total or 0)

    async def agency_figures(self) -> dict[str, dict[str, Any]]:
        """Per agency id: open placements, recalled ones by reason, collected and commission (minor
        units, over recalled placements)."""
        c = self.table.c
        rows = await self.session.execute(
            select(
                c.agency_id,
                c.status,
                c.reason,
                func.count(),
                func.coalesce(func.sum(c.collected_minor), 0),
                func.coalesce(func.sum(c.commission_minor), 0),
            ).group_by(c.agency_id, c.status, c.reason)
        )
        out: dict[str, dict[str, Any]] = {}
        for agency_id, status, reason, count, collected, commission in rows:
            figures = out.setdefault(agency_id, empty_figures())
            if status == "open":
                figures["open"] += int(count)
            else:
                figures["recalled"] += int(count)
                figures["recalled_by_reason"][reason] = int(count)
                figures["collected_minor"] += int(collected)
                figures["commission_minor"] += int(commission)
        return out


def empty_figures() -> dict[str, Any]:
    """An agency's figures before any placement."""
    return {"open": 0, "recalled": 0, "recalled_by_reason": {}, "collected_minor": 0, "commission_minor": 0}
