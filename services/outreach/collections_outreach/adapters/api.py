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

from datetime import UTC, date, datetime
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import command_event, get_runtime, get_session, service_app, unprocessable
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.clock import CLOCK_STREAM
from collections_events.validation import Rejection
from collections_outreach.adapters.conduct_api import add_conduct_routes
from collections_outreach.adapters.experiments_api import add_experiment_routes
from collections_outreach.adapters.explain_api import add_explain_routes
from collections_outreach.app.tables import TREATMENT
from collections_outreach.app.trail_store import read_trail, verify_trail
from collections_outreach.domain.arrangements import installment_statuses
from collections_outreach.domain.experiments import arm_of, arm_strategy
from collections_outreach.domain.state import AccountState, from_json
from collections_outreach.domain.steps import next_step

SOURCE = "collections/outreach-api"
# Bodies are the contract's `data` of the command's type without `account_id` (it is in the path);
# they are validated by the contract's own models, so /docs shows examples rather than a copy.
RESULT_EXAMPLES: dict[str, Example] = {
    "promise to pay": {
        "value": {
            "channel": "call",
            "outcome": "answered_rpc",
            "occurred_at": "2026-01-12T15:04:00Z",
            "promise": {"amount_minor": 5000, "promised_on": "2026-01-20"},
        }
    },
    "no answer": {"value": {"channel": "call", "outcome": "no_answer", "occurred_at": "2026-01-12T15:04:00Z"}},
}
ARRANGEMENT_EXAMPLES: dict[str, Example] = {
    "plan": {
        "value": {
            "kind": "plan",
            "occurred_at": "2026-01-12T15:04:00Z",
            "installments": [
                {"due_on": "2026-01-20", "amount_minor": 30000},
                {"due_on": "2026-02-20", "amount_minor": 30000},
            ],
        }
    },
    "settlement": {"value": {"kind": "settlement", "installments": [{"due_on": "2026-01-30", "amount_minor": 40000}]}},
}


async def _snapshot(session: AsyncSession, runtime: ServiceRuntime, stream_id: str) -> dict[str, Any] | None:
    import json

    t = runtime.spec.tables["snapshots"]
    raw = await session.scalar(select(t.c.state).where(t.c.stream_id == stream_id))
    return json.loads(raw) if raw else None


async def _state(session: AsyncSession, runtime: ServiceRuntime, account_id: str) -> AccountState:
    raw = await _snapshot(session, runtime, account_id)
    if raw is None:
        raise HTTPException(404, detail=f"account {account_id} is unknown to outreach")
    return from_json(raw)


async def _last_closed(session: AsyncSession, runtime: ServiceRuntime) -> date | None:
    raw = await _snapshot(session, runtime, CLOCK_STREAM)
    return date.fromisoformat(raw["last_closed"]) if raw and raw.get("last_closed") else None


def _other_account(body: dict[str, Any], account_id: str) -> JSONResponse | None:
    """422 when the body names another account than the path (the path's account is the one used)."""
    if "account_id" not in body or body["account_id"] == account_id:
        return None
    detail = [{"loc": ["body", "account_id"], "msg": "must equal the account in the path", "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """The outreach service's FastAPI app."""
    app: FastAPI = service_app(runtime, title="collections outreach", description=__doc__ or "")
    add_conduct_routes(app)

    @app.get("/accounts/in-treatment", tags=["agents"])
    async def in_treatment(
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
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
        return {"account_id": account_id, "records": await read_trail(session, account_id)}

    @app.get("/accounts/{account_id}/trail/verify", tags=["agents"])
    async def verify(account_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
        """Recompute the chain; `ok` false names the first record that does not match; 404 with no trail."""
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

    @app.post("/accounts/{account_id}/contact-results", tags=["agents"], status_code=201)
    async def contact_result(
        account_id: str,
        body: dict[str, Any] = Body(..., openapi_examples=RESULT_EXAMPLES),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> Any:
        """A manual contact result (fields of `contact.result_reported`); 422 names the bad field."""
        if (refused := _other_account(body, account_id)) is not None:
            return refused
        data = {**body, "account_id": account_id}
        event = command_event("contact.result_reported", account_id, data, source=SOURCE)
        if isinstance(event, Rejection):
            return unprocessable("contact.result_reported", data, event)
        emitted = await rt.execute(event, "results")
        record = next((e.data for e in emitted if e.type == "outreach.contact_recorded"), None)
        return {"record": record, "events": [{"type": e.type, "data": e.data} for e in emitted]}

    @app.post("/accounts/{account_id}/arrangements", tags=["agents"], status_code=201)
    async def propose_arrangement(
        account_id: str,
        body: dict[str, Any] = Body(..., openapi_examples=ARRANGEMENT_EXAMPLES),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> Any:
        """Propose a plan or settlement: 201 with the arrangement, 409 with the decline reason, 422 invalid."""
        if (refused := _other_account(body, account_id)) is not None:
            return refused
        data = {**body, "account_id": account_id}
        data.setdefault("occurred_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        event = command_event("outreach.arrangement_requested", account_id, data, source=SOURCE)
        if isinstance(event, Rejection):
            return unprocessable("outreach.arrangement_requested", data, event)
        emitted = await rt.execute(event, "outreach")
        for e in emitted:
            if e.type == "outreach.arrangement_declined":
                return JSONResponse(status_code=409, content={"reason": e.data["reason"], "declined": e.data})
        made = next((e.data for e in emitted if e.type == "outreach.arrangement_made"), None)
        completed = any(e.type == "outreach.arrangement_completed" for e in emitted)
        return {"arrangement": made, "status": "completed" if completed else "active"}

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
