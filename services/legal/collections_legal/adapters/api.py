"""Legal's HTTP API: case lists, a case, its moves and closing, its evidence bundle (issue 5).

Moves and closings are agents' commands: each becomes an event (`legal.case_move_requested`,
`legal.case_close_requested`) run through the same handler as the Kafka path (`runtime.execute`),
so the decision and its events are the same whichever way a command arrives.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import MAX_QUERY_INT, command_event, get_runtime, get_session, page, service_app, unknown
from collections_events.envelope import Envelope
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.uow import ConcurrencyError
from collections_events.validation import Rejection
from collections_legal.app.evidence import evidence_bundle, evidence_csv
from collections_legal.app.inputs import HANDLED
from collections_legal.app.placement_repository import PlacementFilter, PlacementRepository, empty_figures
from collections_legal.app.referral_explain import NotClosed, explain_referral
from collections_legal.app.repository import CaseFilter, CaseRow, LegalRepository
from collections_legal.app.state import AccountStore
from collections_legal.app.tables import TABLES
from collections_legal.domain.lifecycle import (
    OPEN_STATES,
    REQUIRED_FIELDS,
    allowed_moves,
    check_move,
)

SOURCE = "collections/legal/api"
CaseState = Literal["referred", "demand_sent", "filed", "judgment", "enforcement", "closed"]
Session = Annotated[AsyncSession, Depends(get_session)]
Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


NOTE_MAX_LENGTH = 2000
"""The longest free-text note an agent may attach to a move or a closing (characters). Without a
bound a 3 MB note became an event the broker refuses (issue 15); now it is a 422 naming `note`."""


class MoveRequest(BaseModel):
    """A move of a case to its next state; `court` and `docket_number` to file, `amount_minor` for a judgment."""

    model_config = ConfigDict(extra="forbid")

    to_state: Literal["demand_sent", "filed", "judgment", "enforcement"]
    actor: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH)
    court: str | None = Field(default=None, max_length=200)
    docket_number: str | None = Field(default=None, max_length=100)
    amount_minor: int | None = Field(default=None, ge=0, strict=True)
    on_date: date | None = None


class CloseRequest(BaseModel):
    """An agent's closing of a case: `paid`, `settled` or `withdrawn` (the others are automatic)."""

    model_config = ConfigDict(extra="forbid")

    reason: Literal["paid", "settled", "withdrawn"]
    actor: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH)


router = APIRouter()
"""Every route of legal's API (tags: cases, evidence, agencies, analysis); the session and the
runtime come from `Depends`."""


@router.get("/cases", tags=["cases"])
async def list_cases(
    session: Session,
    state: CaseState | None = None,
    account_id: str | None = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    dpd_min: Annotated[int | None, Query(ge=0, le=MAX_QUERY_INT)] = None,
    dpd_max: Annotated[int | None, Query(ge=0, le=MAX_QUERY_INT)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> dict[str, Any]:
    """Cases by opening date, account and id, filtered (all bounds inclusive), one page at a time."""
    where = CaseFilter(state, account_id, opened_from, opened_to, dpd_min, dpd_max)
    rows, total = await LegalRepository(session, TABLES).list_cases(where, limit=limit, offset=offset)
    return page([r.to_json() for r in rows], total, limit, offset)


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: str, session: Session) -> dict[str, Any]:
    """The case, its history and the moves it allows now."""
    repo = LegalRepository(session, TABLES)
    case = await _case(repo, case_id)
    return _case_json(case, await repo.history(case_id))


@router.post("/cases/{case_id}/moves", tags=["cases"])
async def move(case_id: str, body: MoveRequest, request: Request, rt: Runtime) -> Any:
    """Move the case one step; 409 with the allowed moves when the lifecycle forbids it."""
    case = await _read_case(rt, case_id)
    missing = [f for f in REQUIRED_FIELDS.get(body.to_state, ()) if getattr(body, f) in (None, "")]
    if missing:
        return _unprocessable(missing, f"required to move to {body.to_state}")
    refused = check_move(case.state, body.to_state, body.model_dump())
    if refused is not None:
        return _conflict(case, refused.reason)
    data = {"case_id": case_id, "account_id": case.account_id, **body.model_dump(mode="json")}
    return await _run(rt, request, "legal.case_move_requested", case, data)


@router.post("/cases/{case_id}/close", tags=["cases"])
async def close(case_id: str, body: CloseRequest, request: Request, rt: Runtime) -> Any:
    """Close the case (paid, settled, withdrawn); 409 when it is already closed."""
    case = await _read_case(rt, case_id)
    if case.state not in OPEN_STATES:
        return _conflict(case, f"a {case.state} case cannot be closed")
    data = {"case_id": case_id, "account_id": case.account_id, **body.model_dump(mode="json")}
    return await _run(rt, request, "legal.case_close_requested", case, data)


@router.get("/cases/{case_id}/evidence", tags=["evidence"])
async def evidence(case_id: str, session: Session, rt: Runtime, format: Literal["json", "csv"] = "json") -> Any:
    """The evidence bundle: case, history, trail with its chain verified, arrangements (or CSV)."""
    bundle = await _bundle(session, rt, case_id)
    if format == "csv":
        return _csv(bundle, case_id)
    return bundle


@router.get("/cases/{case_id}/evidence.csv", tags=["evidence"])
async def evidence_as_csv(case_id: str, session: Session, rt: Runtime) -> Response:
    """The evidence bundle as one CSV table for a court filing."""
    return _csv(await _bundle(session, rt, case_id), case_id)


@router.get("/placements", tags=["agencies"])
async def list_placements(
    session: Session,
    agency_id: str | None = None,
    status: Literal["open", "recalled"] | None = None,
    account_id: str | None = None,
    placed_from: date | None = None,
    placed_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> dict[str, Any]:
    """Placements with agencies by placing close, account and id, filtered (dates inclusive), paged."""
    where = PlacementFilter(agency_id, status, account_id, placed_from, placed_to)
    rows, total = await PlacementRepository(session, TABLES).list(where, limit=limit, offset=offset)
    return page([r.to_json() for r in rows], total, limit, offset)


@router.get("/placements/{placement_id}", tags=["agencies"])
async def get_placement(placement_id: str, session: Session) -> dict[str, Any]:
    """One placement: how it was placed and, once recalled, why, what was collected and the commission."""
    row = await PlacementRepository(session, TABLES).get(placement_id)
    if row is None:
        raise unknown("placement", placement_id)
    return row.to_json()


@router.get("/agencies", tags=["agencies"])
async def agencies(session: Session, rt: Runtime) -> dict[str, Any]:
    """Per agency (configured ones in config order, then any other that holds placements): its terms,
    open and recalled placements (by reason), collected and commission over recalled ones (minor units)."""
    figures = await PlacementRepository(session, TABLES).agency_figures()
    out = []
    for agency in rt.config.legal.placement.agencies:
        terms = {"share_pct": float(agency.share_pct), "commission_pct": float(agency.commission_pct)}
        out.append({"agency_id": agency.id, "configured": True, **terms, **figures.pop(agency.id, empty_figures())})
    for agency_id in sorted(figures):
        out.append({"agency_id": agency_id, "configured": False, **figures[agency_id]})
    return {"agencies": out}


@router.get("/accounts/{account_id}/referral", tags=["analysis"])
async def referral(
    account_id: str,
    session: Session,
    rt: Runtime,
    as_of: date = Query(..., description="the closed business date (YYYY-MM-DD) to explain"),
) -> dict[str, Any]:
    """Each referral and placement condition at the close of `as_of`, its value and whether it held,
    and what legal published then (behaviour.md, Explanations). 404 for an account legal never
    handled an event of; 422 for a date that is not a closed business date."""
    rows = await HANDLED.read(session, account_id)
    if not any(owner == account_id for owner, _, _ in rows):
        raise unknown("account", account_id)
    try:
        return await explain_referral(rt.spec, rt.config, account_id, as_of, rows)
    except NotClosed as exc:
        raise HTTPException(422, detail=str(exc)) from None


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """Legal's FastAPI app on `runtime` (health and readiness from `service_app`)."""
    app = service_app(
        runtime, title="Collections Legal", description="Legal escalation: cases, evidence, placements, referrals."
    )
    app.include_router(router)
    return app


async def _case(repo: LegalRepository, case_id: str) -> CaseRow:
    case = await repo.case(case_id)
    if case is None:
        raise unknown("case", case_id)
    return case


async def _read_case(rt: ServiceRuntime, case_id: str) -> CaseRow:
    async with rt.db.sessions() as session:
        return await _case(LegalRepository(session, TABLES), case_id)


async def _bundle(session: AsyncSession, rt: ServiceRuntime, case_id: str) -> dict[str, Any]:
    repo = LegalRepository(session, TABLES)
    case = await _case(repo, case_id)
    account, version = await AccountStore(rt.unit_of_work(session)).load(case.account_id)
    return await evidence_bundle(repo, case, account if version else None)


def _csv(bundle: dict[str, Any], case_id: str) -> Response:
    return Response(
        content=evidence_csv(bundle),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="case-{case_id}-evidence.csv"'},
    )


def _case_json(case: CaseRow, history: list[dict[str, Any]]) -> dict[str, Any]:
    return {**case.to_json(), "allowed_moves": list(allowed_moves(case.state)), "history": history}


def _conflict(case: CaseRow, reason: str) -> JSONResponse:
    return JSONResponse(
        status_code=409,
        content={"detail": reason, "state": case.state, "allowed_moves": list(allowed_moves(case.state))},
    )


def _unprocessable(fields: list[str], message: str) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": ["body", f], "msg": message, "type": "missing"} for f in fields]},
    )


async def _run(rt: ServiceRuntime, request: Request, type_name: str, case: CaseRow, data: dict[str, Any]) -> Any:
    """Run the command through the handler; answer with the case as it is after it."""
    event = command_event(
        type_name, case.account_id, data, source=SOURCE, traceparent=request.headers.get("traceparent")
    )
    if isinstance(event, Rejection):
        return JSONResponse(status_code=422, content={"detail": event.reason})
    try:
        emitted: list[Envelope] = await rt.execute(event, "legal")
    except ConcurrencyError:
        return _conflict(await _read_case(rt, case.case_id), "the case changed meanwhile; read it and retry")
    after = await _read_case(rt, case.case_id)
    rejected = [e for e in emitted if e.type == "system.event_rejected"]
    if rejected:
        return _conflict(after, str(rejected[0].data.get("reason")))
    async with rt.db.sessions() as session:
        history = await LegalRepository(session, TABLES).history(case.case_id)
    return {
        **_case_json(after, history),
        "events": [{"id": e.id, "type": e.type, "data": e.data} for e in emitted],
    }
