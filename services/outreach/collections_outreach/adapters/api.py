"""Outreach's API for agents (behaviour.md, Outreach and Arrangements).

- GET  /accounts/in-treatment            accounts in an episode, their dpd and next step
- GET  /accounts/{id}                    flags, consents, contacts, episode, promises, arrangements
- GET  /accounts/{id}/trail              the contact trail (hash-chained records)
- GET  /accounts/{id}/trail/verify       the chain recomputed: ok, or the first record that does not match
- POST /accounts/{id}/contact-results    a manual contact result (fields of contact.result_reported)
- POST /accounts/{id}/arrangements       propose a plan/settlement: 201 made, 409 declined, 422 invalid
- GET  /accounts/{id}/arrangements       each arrangement and each installment met, due or missed

Commands become events (`command_event`) run through `runtime.execute`, the same handler as the
Kafka path. Destinations are returned to agents but never logged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import MAX_QUERY_INT, get_runtime, get_session, service_app, unknown
from collections_events.runtime.runtime import ServiceRuntime
from collections_outreach.adapters.api_commands import router as commands
from collections_outreach.adapters.conduct_api import router as conduct
from collections_outreach.adapters.experiments_api import router as experiments
from collections_outreach.adapters.explain_api import router as explain
from collections_outreach.app import queries
from collections_outreach.app.trail_store import read_trail, verify_trail
from collections_outreach.domain.state import AccountState

agents = APIRouter(tags=["agents"])
"""The agents' reads; their commands are in api_commands.py, analysis in experiments/explain_api.py."""


async def _state(session: AsyncSession, account_id: str) -> AccountState:
    state = await queries.account_state(session, account_id)
    if state is None:
        raise unknown("account", account_id)
    return state


@agents.get("/accounts/in-treatment")
async def in_treatment(
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_QUERY_INT),
    session: AsyncSession = Depends(get_session),
    rt: ServiceRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Accounts in a delinquency episode (oldest first), with dpd at the last close and their next step.

    `total` counts every account in treatment, so an agent can page with `limit`/`offset`.
    """
    return await queries.in_treatment(session, rt.config.outreach, limit, offset)


@agents.get("/accounts/{account_id}")
async def account(account_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
    """The account as outreach sees it: flags, consents, contacts (for agents), episode, promises."""
    return queries.account_view(await _state(session, account_id), await queries.last_closed(session))


@agents.get("/accounts/{account_id}/trail")
async def trail(account_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
    """The account's contact trail, oldest first (each record as in `outreach.contact_recorded`)."""
    if not await queries.is_known(session, account_id):
        raise unknown("account", account_id)
    return {"account_id": account_id, "records": await read_trail(session, account_id)}


@agents.get("/accounts/{account_id}/trail/verify")
async def verify(account_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
    """Recompute the chain; `ok` false names the first record that does not match; 404 with no trail."""
    if not await queries.is_known(session, account_id):
        raise unknown("account", account_id)
    verdict = await verify_trail(session, account_id)
    if verdict.ok and verdict.records == 0:
        raise HTTPException(status_code=404, detail=f"no contact record for account {account_id}")
    return {
        "account_id": account_id,
        "ok": verdict.ok,
        "records": verdict.records,
        "first_bad_sequence": verdict.first_bad_sequence,
        "first_bad_record_id": verdict.first_bad_record_id,
        "reason": verdict.reason,
    }


@agents.get("/accounts/{account_id}/arrangements")
async def arrangements(
    account_id: str, session: AsyncSession = Depends(get_session), rt: ServiceRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Every arrangement of the account with each installment `met`, `due` or `missed`."""
    state = await _state(session, account_id)
    closed = await queries.last_closed(session)
    return queries.arrangements_view(state, closed, rt.config.outreach.arrangements.grace_days)


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """The outreach service's FastAPI app: the agents' reads and commands, conduct, analysis."""
    app: FastAPI = service_app(runtime, title="Collections Outreach", description=__doc__ or "")
    # The in-treatment list before `/accounts/{account_id}`, which would otherwise take its path.
    for router in (agents, commands, conduct, experiments, explain):
        app.include_router(router)
    return app
