"""`GET /accounts/{id}/explain?as_of=D` (behaviour.md, Explanations): app/explain.py over the
account's handled events. 404 for an account outreach never handled an event of; 422 for a date
that is not a closed business date (or not a date)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import get_runtime, get_session, unknown
from collections_events.runtime.runtime import ServiceRuntime
from collections_outreach.app.explain import NotClosed, explain_at, refold
from collections_outreach.app.inputs import CLOCK, read_inputs


async def explain_account(
    session: AsyncSession, runtime: ServiceRuntime, account_id: str, as_of: date
) -> dict[str, Any] | None:
    """The explanation, or None when outreach handled no event of `account_id`. Raises NotClosed."""
    rows = await read_inputs(session, account_id)
    if not any(owner != CLOCK for owner, _, _ in rows):
        return None
    feds = await refold(runtime.spec, runtime.config, account_id, until_close_after(rows, as_of))
    return explain_at(feds, account_id, as_of, runtime.config)


def until_close_after(rows: list[tuple[str, str, str]], as_of: date) -> list[tuple[str, str, str]]:
    """The rows up to (not including) the first close after `as_of`: nothing later can change D's decisions."""
    for i, (owner, _, raw) in enumerate(rows):
        if owner == CLOCK and json.loads(raw)["data"]["as_of"] > as_of.isoformat():
            return rows[:i]
    return rows


router = APIRouter()
"""Outreach's explain route(s); create_api (api.py) includes it."""


@router.get("/accounts/{account_id}/explain", tags=["analysis"])
async def explain(
    account_id: str,
    as_of: date = Query(..., description="the business date (YYYY-MM-DD) to explain"),
    session: AsyncSession = Depends(get_session),
    rt: ServiceRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Why each step of the account's arm was requested, suppressed or not due at `as_of`."""
    try:
        found = await explain_account(session, rt, account_id, as_of)
    except NotClosed as exc:
        raise HTTPException(422, detail=str(exc)) from None
    if found is None:
        raise unknown("account", account_id)
    return found
