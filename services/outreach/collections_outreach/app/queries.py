"""Outreach's read models for the API: functions of a read session returning plain values.

They read outreach's own tables only (the account snapshots, the clock, the treatment index, the
trail, the conduct breaches, the handled inputs), never write, and never see a request. An account
is known to outreach once it has handled an event of it (its snapshot exists); a function about one
account returns None for an unknown one and the route answers 404 (`unknown("account", id)`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.store.clock import CLOCK_STREAM
from collections_outreach.app.tables import TABLES
from collections_outreach.domain.state import AccountState, from_json

SNAPSHOTS = TABLES["snapshots"]


def _is_account(stream_id: str) -> bool:
    """Account ids never begin with `$` (the clock's stream is `$clock`)."""
    return not stream_id.startswith("$")


async def _snapshot(session: AsyncSession, stream_id: str) -> dict[str, Any] | None:
    raw = await session.scalar(select(SNAPSHOTS.c.state).where(SNAPSHOTS.c.stream_id == stream_id))
    found: dict[str, Any] | None = json.loads(raw) if raw else None
    return found


async def last_closed(session: AsyncSession) -> date | None:
    """The last closed business date outreach applied (the `$clock` snapshot), or None before any."""
    raw = await _snapshot(session, CLOCK_STREAM)
    return date.fromisoformat(raw["last_closed"]) if raw and raw.get("last_closed") else None


async def account_state(session: AsyncSession, account_id: str) -> AccountState | None:
    """The account's state as outreach keeps it, or None when outreach never handled an event of it."""
    raw = await _snapshot(session, account_id) if _is_account(account_id) else None
    return None if raw is None else from_json(raw)


async def is_known(session: AsyncSession, account_id: str) -> bool:
    """Whether outreach has handled an event of `account_id` (one indexed read of its snapshot key)."""
    if not _is_account(account_id):
        return False
    found = await session.scalar(select(SNAPSHOTS.c.stream_id).where(SNAPSHOTS.c.stream_id == account_id))
    return found is not None
