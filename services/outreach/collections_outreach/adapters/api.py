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

from datetime import date
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import MAX_QUERY_INT, get_runtime, get_session, service_app, unknown
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.clock import CLOCK_STREAM
from collections_outreach.adapters.api_commands import router as commands
from collections_outreach.adapters.conduct_api import add_conduct_routes
from collections_outreach.adapters.experiments_api import add_experiment_routes
from collections_outreach.adapters.explain_api import add_explain_routes
from collections_outreach.app import queries
from collections_outreach.app.tables import TREATMENT
from collections_outreach.app.trail_store import read_trail, verify_trail
from collections_outreach.domain.arrangements import installment_statuses
from collections_outreach.domain.experiments import arm_of, arm_strategy
from collections_outreach.domain.state import AccountState
from collections_outreach.domain.steps import next_step


async def _snapshot(session: AsyncSession, runtime: ServiceRuntime, stream_id: str) -> dict[str, Any] | None:
    import json

    t = runtime.spec.tables["snapshots"]
    raw = await session.scalar(select(t.c.state).where(t.c.stream_id == stream_id))
    return json.loads(raw) if raw else None


async def _state(session: AsyncSession, runtime: ServiceRuntime, account_id: str) -> AccountState:
    state = await queries.account_state(session, account_id)
    if state is None:
        raise unknown("account", account_id)
    return state


async def _last_closed(session: AsyncSession, runtime: ServiceRuntime) -> date | None:
    raw = await _snapshot(session, runtime, CLOCK_STREAM)
    return date.fromisoformat(raw["last_closed"]) if raw and raw.get("last_closed") else None


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """The outreach service's FastAPI app."""
    app: FastAPI = service_app(runtime, title="Collections Outreach", description=__doc__ or "")
    app.include_router(commands)
    add_conduct_routes(app)

    @app.get("/accounts/in-treatment", tags=["agents"])
    async def in_treatment(
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_QUERY_INT),
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> dict[str, Any]:
        """Accounts in a delinquency episode (oldest first), with dpd at the last close and their next step.

        `total` counts every account in treatment, so an agent can page with `limit`/`offset`.
        """
        closed = await _last_closed(session, rt)
        total = int(await session.scalar(select(func.count()).select_from(TREATMENT)) or 0)
        rows = (
            await session.execute(
                select(TREATMENT.c.account_id, TREATMENT.c.delinquent_since)
                .order_by(TREATMENT.c.delinquent_since, TREATMENT.c.account_id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        accounts = []
        for row in rows:
            state = await _state(session, rt, row.account_id)
            since: date = row.delinquent_since
            after = closed or since
            strategy = arm_strategy(arm_of(row.account_id, rt.config.outreach), rt.config.outreach)
            upcoming = next_step(strategy, since, after, dict(state.fired))
            accounts.append(
                {
                    "account_id": row.account_id,
                    "delinquent_since": since.isoformat(),
                    "dpd": (closed - since).days if closed else 0,
                    "as_of": closed.isoformat() if closed else None,
                    "next_step": None
                    if upcoming is None
                    else {
                        "step": upcoming[0].id,
                        "channel": upcoming[0].channel,
                        "at_close_of": upcoming[1].isoformat(),
                    },
                }
            )
        return {
            "as_of": closed.isoformat() if closed else None,
            "total": total,
            "limit": limit,
            "offset": offset,
            "accounts": accounts,
        }

    @app.get("/accounts/{account_id}", tags=["agents"])
    async def account(
        account_id: str, session: AsyncSession = Depends(get_session), rt: ServiceRuntime = Depends(get_runtime)
    ) -> dict[str, Any]:
        """The account as outreach sees it: flags, consents, contacts (for agents), episode, promises."""
        state = await _state(session, rt, account_id)
        closed = await _last_closed(session, rt)
        p = state.profile
        return {
            "account_id": account_id,
            "known": p is not None,
            "timezone": p.timezone if p else None,
            "customer_id": p.customer_id if p else None,
            "flags": sorted(state.flags),
            "consents": dict(p.consents) if p else {},
            "contacts": {
                "phones": [{"number": n, "kind": k} for n, k in p.phones],
                "emails": list(p.emails),
                "postal_address": p.postal_address,
            }
            if p
            else None,
            "delinquent_since": state.delinquent_since.isoformat() if state.delinquent_since else None,
            "dpd": state.dpd(closed) if closed and state.in_episode else 0,
            "legal_hold": bool(state.open_cases),
            "promises": [
                {
                    "promise_id": x.promise_id,
                    "amount_minor": x.amount_minor,
                    "promised_on": x.promised_on.isoformat(),
                    "status": x.status,
                    "counted_minor": x.counted_minor,
                }
                for x in state.promises
            ],
            "active_arrangement": state.active_arrangement.arrangement_id if state.active_arrangement else None,
        }

    @app.get("/accounts/{account_id}/trail", tags=["agents"])
    async def trail(account_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
        """The account's contact trail, oldest first (each record as in `outreach.contact_recorded`)."""
        if not await queries.is_known(session, account_id):
            raise unknown("account", account_id)
        return {"account_id": account_id, "records": await read_trail(session, account_id)}

    @app.get("/accounts/{account_id}/trail/verify", tags=["agents"])
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

    @app.get("/accounts/{account_id}/arrangements", tags=["agents"])
    async def arrangements(
        account_id: str, session: AsyncSession = Depends(get_session), rt: ServiceRuntime = Depends(get_runtime)
    ) -> dict[str, Any]:
        """Every arrangement of the account with each installment `met`, `due` or `missed`."""
        state = await _state(session, rt, account_id)
        closed = await _last_closed(session, rt)
        grace = rt.config.outreach.arrangements.grace_days
        out = []
        for a in state.arrangements:
            statuses = installment_statuses(a, closed, grace)
            out.append(
                {
                    "arrangement_id": a.arrangement_id,
                    "kind": a.kind,
                    "made_on": a.made_on.isoformat(),
                    "status": a.status,
                    "total_minor": a.total_minor,
                    "paid_minor": a.counted_minor,
                    "broken_as_of": a.ended_as_of.isoformat() if a.ended_as_of else None,
                    "installments": [
                        {"number": n, "due_on": d.isoformat(), "amount_minor": m, "status": s}
                        for n, ((d, m), s) in enumerate(zip(a.installments, statuses, strict=True), start=1)
                    ],
                }
            )
        return {"account_id": account_id, "arrangements": out}

    add_experiment_routes(app)
    add_explain_routes(app)
    return app
