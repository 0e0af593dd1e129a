"""Outreach's conduct API: the breaches found in agencies' reported contacts (behaviour.md, Agencies).

- GET /conduct-breaches?agency_id=&rule=&from=&to=&account_id=&limit=&offset=

`from`/`to` are dates, both included, on the contact's local day (its `occurred_at` in the
customer's timezone, as the rules judged it).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import MAX_QUERY_INT, get_session, page
from collections_events.outbound import ConductRule
from collections_outreach.app.tables import CONDUCT

RULES: tuple[str, ...] = get_args(ConductRule)


router = APIRouter()
"""Outreach's conduct route(s); create_api (api.py) includes it."""


@router.get("/conduct-breaches", tags=["agencies"])
async def conduct_breaches(
    session: Annotated[AsyncSession, Depends(get_session)],
    agency_id: str | None = None,
    rule: ConductRule | None = None,
    account_id: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> dict[str, Any]:
    """Conduct breaches by local day, account, record and the rule's order, filtered, one page at a
    time, with the count per rule over every page."""
    c = CONDUCT.c
    conditions = []
    if agency_id is not None:
        conditions.append(c.agency_id == agency_id)
    if rule is not None:
        conditions.append(c.rule == rule)
    if account_id is not None:
        conditions.append(c.account_id == account_id)
    if from_ is not None:
        conditions.append(c.local_date >= from_)
    if to is not None:
        conditions.append(c.local_date <= to)
    counts = {
        r: int(n) for r, n in await session.execute(select(c.rule, func.count()).where(*conditions).group_by(c.rule))
    }
    total = sum(counts.values())
    rule_order = case({r: i for i, r in enumerate(RULES)}, value=c.rule)
    rows = await session.execute(
        select(CONDUCT)
        .where(*conditions)
        .order_by(c.local_date, c.occurred_at, c.account_id, c.record_id, rule_order)
        .limit(limit)
        .offset(offset)
    )
    items = [{**r._mapping, "local_date": r.local_date.isoformat()} for r in rows]
    return {**page(items, total, limit, offset), "by_rule": {r: counts[r] for r in RULES if r in counts}}
