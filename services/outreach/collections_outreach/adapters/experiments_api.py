"""`GET /experiments?from=&to=` (behaviour.md, Strategy experiments): each arm's figures.

Per arm, over the episodes whose start (the first business date past due) lies in `from`..`to`
(business dates, both included; either may be left out): episodes started, contacts requested by
channel, suppressions by reason, right-party contacts, promises made/kept/broken, arrangements
made/completed/broken, episodes cured within 30 days of their start, and the payments received
during those episodes (minor units). Computed from the per-episode figures each account's snapshot
keeps (domain.experiment_figures).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import get_runtime, get_session
from collections_events.runtime.runtime import ServiceRuntime
from collections_outreach.domain.experiment_figures import KEY, add_episode, empty_figures
from collections_outreach.domain.experiments import arms

router = APIRouter()
"""Outreach's experiments route(s); create_api (api.py) includes it."""


@router.get("/experiments", tags=["analysis"])
async def experiments(
    from_: date | None = Query(None, alias="from", description="first episode start (YYYY-MM-DD), included"),
    to: date | None = Query(None, description="last episode start (YYYY-MM-DD), included"),
    session: AsyncSession = Depends(get_session),
    rt: ServiceRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Each arm's figures over the episodes started between `from` and `to` (both included)."""
    if from_ is not None and to is not None and from_ > to:
        raise HTTPException(422, detail="`from` must not be after `to`")
    config = rt.config.outreach
    shares = {e.id: e.share_pct for e in config.experiments}
    by_arm = {arm: empty_figures() for arm in arms(config)}
    t = rt.spec.tables["snapshots"]
    low, high = (from_ or date.min).isoformat(), (to or date.max).isoformat()
    for (raw,) in await session.execute(select(t.c.state)):
        for episode in json.loads(raw).get("extra", {}).get(KEY, []):
            if low <= episode["started_on"] <= high:
                add_episode(by_arm.setdefault(episode["arm"], empty_figures()), episode)
    champion_share = 100 - sum(shares.values())
    return {
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
        "arms": [
            {"arm": arm, "share_pct": shares.get(arm, champion_share if arm == "champion" else None), **f}
            for arm, f in by_arm.items()
        ],
    }
