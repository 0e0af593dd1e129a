"""Legal's own tables through one session: cases, their history, and the copy of contact trails.

Used by the handler (inside its unit of work) and by the API (read sessions). A case row carries a
`version`; every change checks it, so two writers moving one case at once cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.store.statements import execute, fetch_one, fetch_scalar
from collections_events.store.uow import ConcurrencyError, statement


@dataclass(frozen=True)
class CaseRow:
    """One case as stored: its state, the facts it was opened with, and how it closed."""

    case_id: str
    account_id: str
    state: str
    opened_on: date
    dpd: int
    past_due_minor: int
    contact_attempts: int
    closed_on: date | None
    close_reason: str | None
    opened_event_id: str
    version: int

    def to_json(self) -> dict[str, Any]:
        """The case as the API shows it (dates ISO, money in minor units)."""
        return {
            "case_id": self.case_id,
            "account_id": self.account_id,
            "state": self.state,
            "opened_on": self.opened_on.isoformat(),
            "dpd": self.dpd,
            "past_due_minor": self.past_due_minor,
            "contact_attempts": self.contact_attempts,
            "closed_on": self.closed_on.isoformat() if self.closed_on else None,
            "close_reason": self.close_reason,
        }


@dataclass(frozen=True)
class CaseFilter:
    """Filters of the case list: state, opening date range and dpd range (all inclusive)."""

    state: str | None = None
    account_id: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    dpd_min: int | None = None
    dpd_max: int | None = None


HISTORY_FIELDS = (
    "step",
    "from_state",
    "to_state",
    "actor",
    "note",
    "court",
    "docket_number",
    "amount_minor",
    "on_date",
    "reason",
    "as_of",
    "event_id",
    "time",
)


class LegalRepository:
    """Reads and writes legal's own tables on `session` (no commit: the caller's transaction)."""

    def __init__(self, session: AsyncSession, tables: Mapping[str, Table]) -> None:
        self.session = session
        self.cases = tables["cases"]
        self.history_table = tables["case_history"]
        self.trail_table = tables["trail"]

    # -- cases ----------------------------------------------------------------------------------
    async def case(self, case_id: str) -> CaseRow | None:
        """The case `case_id`, or None."""
        query = statement(self.cases, "by_id", lambda t: select(t).where(t.c.case_id == bindparam("b_case_id")))
        row = await fetch_one(self.session, query, {"b_case_id": case_id})
        return CaseRow(**dict(zip(self.cases.c.keys(), row, strict=True))) if row else None

    async def insert_case(self, case: CaseRow) -> None:
        """Store a newly opened case."""
        await execute(self.session, statement(self.cases, "insert", insert), dict(case.__dict__))

    async def change_case(
        self, case: CaseRow, *, state: str, closed_on: date | None = None, close_reason: str | None = None
    ) -> CaseRow:
        """Move `case` to `state` if nobody moved it since it was read. Raises ConcurrencyError."""
        values: dict[str, Any] = {"state": state, "version": case.version + 1}
        if closed_on is not None or close_reason is not None:
            values.update(closed_on=closed_on, close_reason=close_reason)
        result = await self.session.execute(
            update(self.cases)
            .where(self.cases.c.case_id == case.case_id, self.cases.c.version == case.version)
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyError(f"case {case.case_id} moved past version {case.version}")
        return CaseRow(**{**case.__dict__, **values})

    async def list_cases(self, where: CaseFilter, *, limit: int, offset: int) -> tuple[list[CaseRow], int]:
        """One page of cases matching `where` (oldest opened first, then by account and case id), and the total."""
        c = self.cases.c
        conditions = []
        if where.state is not None:
            conditions.append(c.state == where.state)
        if where.account_id is not None:
            conditions.append(c.account_id == where.account_id)
        if where.opened_from is not None:
            conditions.append(c.opened_on >= where.opened_from)
        if where.opened_to is not None:
            conditions.append(c.opened_on <= where.opened_to)
        if where.dpd_min is not None:
            conditions.append(c.dpd >= where.dpd_min)
        if where.dpd_max is not None:
            conditions.append(c.dpd <= where.dpd_max)
        total = await self.session.scalar(select(func.count()).select_from(self.cases).where(*conditions))
        rows = await self.session.execute(
            select(self.cases)
            .where(*conditions)
            .order_by(c.opened_on, c.account_id, c.case_id)
            .limit(limit)
            .offset(offset)
        )
        return [CaseRow(**r._mapping) for r in rows], int(total or 0)

    # -- history --------------------------------------------------------------------------------
    async def add_history(self, case_id: str, **fields: Any) -> None:
        """Append one step to the case's history (its step number is the next one)."""
        h = self.history_table
        last_step = statement(
            h, "last_step", lambda t: select(func.max(t.c.step)).where(t.c.case_id == bindparam("b_case_id"))
        )
        last = await fetch_scalar(self.session, last_step, {"b_case_id": case_id})
        await execute(
            self.session, statement(h, "insert", insert), {"case_id": case_id, "step": int(last or 0) + 1, **fields}
        )

    async def history(self, case_id: str) -> list[dict[str, Any]]:
        """The case's steps, first (its opening) to last, as the API shows them."""
        h = self.history_table
        rows = await self.session.execute(select(h).where(h.c.case_id == case_id).order_by(h.c.step))
        out = []
        for row in rows:
            item = {name: row._mapping[name] for name in HISTORY_FIELDS}
            for key in ("on_date", "as_of"):
                item[key] = item[key].isoformat() if item[key] else None
            out.append(item)
        return out

    # -- the trail copy -------------------------------------------------------------------------
    async def add_trail_record(self, record: Mapping[str, Any], as_of: date | None) -> bool:
        """Keep one `outreach.contact_recorded` record exactly as received; False when already kept."""
        t = self.trail_table
        kept = statement(t, "kept", lambda t: select(t.c.record_id).where(t.c.record_id == bindparam("b_record_id")))
        if await fetch_scalar(self.session, kept, {"b_record_id": record["record_id"]}) is not None:
            return False
        await execute(
            self.session,
            statement(t, "insert", insert),
            {
                "record_id": record["record_id"],
                "account_id": record["account_id"],
                "sequence": record["sequence"],
                "kind": record["kind"],
                "as_of": as_of,
                "record": json.dumps(dict(record), ensure_ascii=False, separators=(",", ":"), sort_keys=True),
            },
        )
        return True

    async def trail(self, account_id: str) -> list[dict[str, Any]]:
        """The account's trail copy in `sequence` order, each record with every field as received."""
        t = self.trail_table
        rows = await self.session.execute(
            select(t.c.record).where(t.c.account_id == account_id).order_by(t.c.sequence, t.c.record_id)
        )
        return [json.loads(r.record) for r in rows]
