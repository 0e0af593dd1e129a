"""The ledger's HTTP API (issue 3): an account's money and its event history.

The read models are in `app/queries.py`; this module only routes. `/health` and `/ready` come from
`service_app`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import NOT_FOUND_RESPONSES, get_runtime, get_session, service_app, unknown
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.uow import UnitOfWork
from collections_ledger.app import queries
from collections_ledger.app.queries import AccountOut, StoredEventOut

accounts = APIRouter(tags=["accounts"])


def get_reader(session: AsyncSession = Depends(get_session), rt: ServiceRuntime = Depends(get_runtime)) -> UnitOfWork:
    """FastAPI dependency: a unit of work on a read session, for `read_stream` (nothing is committed)."""
    return rt.unit_of_work(session)


@accounts.get("/accounts/{account_id}", response_model=AccountOut, responses=NOT_FOUND_RESPONSES)
async def account(account_id: str, reader: UnitOfWork = Depends(get_reader)) -> AccountOut:
    """The account's unpaid dues, credit, payments (active and reversed) and waivers; 404 if unknown."""
    view = await queries.account_view(reader, account_id)
    if view is None:
        raise unknown("account", account_id)
    return view


@accounts.get("/accounts/{account_id}/events", response_model=list[StoredEventOut], responses=NOT_FOUND_RESPONSES)
async def events(account_id: str, reader: UnitOfWork = Depends(get_reader)) -> list[StoredEventOut]:
    """The account's stream: what changed it and what the ledger published about it, oldest first; 404 if unknown."""
    view = await queries.stream_view(reader, account_id)
    if view is None:
        raise unknown("account", account_id)
    return view


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """The ledger's FastAPI app (OpenAPI at /docs): accounts and their streams."""
    app = service_app(runtime, title="Collections Ledger", description="Dues, payments, reversals, waivers.")
    app.include_router(accounts)
    return app
