"""Agents' commands on outreach (behaviour.md, Outreach and Arrangements), as a module-level router.

- POST /accounts/{id}/contact-results    a manual contact result (fields of contact.result_reported): 201
- POST /accounts/{id}/arrangements       propose a plan/settlement: 201 made, 409 declined

Both answer 404 for an account outreach never handled an event of, before any event is made
(nothing is recorded), and 422 naming the field for a bad body (unknown fields included). A command
becomes an event (`command_event`) run through `runtime.execute`, the same handler as the Kafka
path; a body without `occurred_at` takes the command's arrival instant (the event's `time`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from collections_events.api import NOT_FOUND_RESPONSES, command_event, get_runtime, unknown, unprocessable
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.validation import Event, Rejection, read_structured
from collections_outreach.adapters.api_bodies import (
    ARRANGEMENT_EXAMPLES,
    RESULT_EXAMPLES,
    ArrangementBody,
    CommandBody,
    ContactResultBody,
)
from collections_outreach.app import queries

SOURCE = "collections/outreach-api"
PLACEHOLDER_INSTANT = "1970-01-01T00:00:00Z"
"""Stands in for a missing `occurred_at` until the command's own time is known."""

router = APIRouter(tags=["agents"])
Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


async def known_account(account_id: str, rt: Runtime) -> str:
    """The path's account id; 404 (`unknown account <id>`) when outreach never handled an event of it.

    Read in a session of its own, closed before the command's transaction begins.
    """
    async with rt.db.sessions() as session:
        if not await queries.is_known(session, account_id):
            raise unknown("account", account_id)
    return account_id


KnownAccount = Annotated[str, Depends(known_account)]


def arrival_event(type_name: str, account_id: str, data: dict[str, Any]) -> Event | Rejection:
    """The command's event of `data` (the contract's data); without `occurred_at`, the command's
    arrival instant (the event's `time`, made by `command_event`)."""
    if "occurred_at" in data:
        return command_event(type_name, account_id, data, source=SOURCE)
    made = command_event(type_name, account_id, {**data, "occurred_at": PLACEHOLDER_INSTANT}, source=SOURCE)
    if isinstance(made, Rejection):
        return made
    structured = made.envelope.to_structured()
    structured["data"] = {**data, "occurred_at": made.envelope.time}
    return read_structured(structured)


def other_account(body: ContactResultBody | ArrangementBody, account_id: str) -> JSONResponse | None:
    """422 when the body names another account than the path (the path's account is the one used)."""
    if body.account_id is None or body.account_id == account_id:
        return None
    detail = [{"loc": ["body", "account_id"], "msg": "must equal the account in the path", "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})


async def run(rt: ServiceRuntime, type_name: str, topic: str, account_id: str, body: CommandBody) -> Any:
    """The emitted envelopes of the command, or the 422 answer when the contract refuses it."""
    data = {k: v for k, v in body.model_dump(mode="json", exclude_unset=True).items() if v is not None}
    data["account_id"] = account_id
    event = arrival_event(type_name, account_id, data)
    if isinstance(event, Rejection):
        return unprocessable(type_name, {"occurred_at": PLACEHOLDER_INSTANT, **data}, event)
    return await rt.execute(event, topic)


@router.post("/accounts/{account_id}/contact-results", status_code=201, responses=NOT_FOUND_RESPONSES)
async def contact_result(
    account_id: KnownAccount,
    body: Annotated[ContactResultBody, Body(openapi_examples=RESULT_EXAMPLES)],
    rt: Runtime,
) -> Any:
    """A manual contact result (fields of `contact.result_reported`): the trail record and the events
    it made; 404 for an unknown account; 422 names the bad field."""
    if (refused := other_account(body, account_id)) is not None:
        return refused
    emitted = await run(rt, "contact.result_reported", "results", account_id, body)
    if isinstance(emitted, JSONResponse):
        return emitted
    record = next((e.data for e in emitted if e.type == "outreach.contact_recorded"), None)
    return {"record": record, "events": [{"type": e.type, "data": e.data} for e in emitted]}


@router.post(
    "/accounts/{account_id}/arrangements",
    status_code=201,
    responses={**NOT_FOUND_RESPONSES, 409: {"description": "Declined, with the reason"}},
)
async def propose_arrangement(
    account_id: KnownAccount,
    body: Annotated[ArrangementBody, Body(openapi_examples=ARRANGEMENT_EXAMPLES)],
    rt: Runtime,
) -> Any:
    """Propose a plan or settlement: 201 with the arrangement, 409 with the decline reason, 404 for an
    unknown account, 422 invalid."""
    if (refused := other_account(body, account_id)) is not None:
        return refused
    emitted = await run(rt, "outreach.arrangement_requested", "outreach", account_id, body)
    if isinstance(emitted, JSONResponse):
        return emitted
    for e in emitted:
        if e.type == "outreach.arrangement_declined":
            return JSONResponse(status_code=409, content={"reason": e.data["reason"], "declined": e.data})
    made = next((e.data for e in emitted if e.type == "outreach.arrangement_made"), None)
    completed = any(e.type == "outreach.arrangement_completed" for e in emitted)
    return {"arrangement": made, "status": "completed" if completed else "active"}
