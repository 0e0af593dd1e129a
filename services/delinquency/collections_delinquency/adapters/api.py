"""Delinquency's HTTP API (issue 3): an account's standing, counts per bucket, roll rates.

Everything is as of the last closed business date; `/health` and `/ready` come from `service_app`.
The read models are in `app/queries.py`; this module only routes.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from sqlalchemy.ext.asyncio import AsyncSession

from collections_delinquency.app import queries
from collections_delinquency.app.facts import scheme_of
from collections_delinquency.app.queries import AccountOut, BucketsOut, RollRatesOut
from collections_events.api import NOT_FOUND_RESPONSES, get_runtime, get_session, service_app, unknown
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.uow import UnitOfWork

accounts = APIRouter(tags=["accounts"])
portfolio = APIRouter(tags=["portfolio"])


def get_reader(session: AsyncSession = Depends(get_session), rt: ServiceRuntime = Depends(get_runtime)) -> UnitOfWork:
    """FastAPI dependency: a unit of work on a read session, for the clock and the tables (nothing is committed)."""
    return rt.unit_of_work(session)


@accounts.get("/accounts/{account_id}", response_model=AccountOut, responses=NOT_FOUND_RESPONSES)
async def account(
    account_id: str,
    reader: UnitOfWork = Depends(get_reader),
) -> AccountOut:
    """The account's dpd, bucket, delinquent_since and past-due amount as of the last close; 404 if unknown."""
    view = await queries.account_view(reader, account_id, scheme_of(reader.config.delinquency))
    if view is None:
        raise unknown("account", account_id)
    return view


@portfolio.get("/buckets", response_model=BucketsOut)
async def buckets(
    reader: UnitOfWork = Depends(get_reader),
) -> BucketsOut:
    """How many known accounts (current ones included) are in each bucket as of the last close."""
    return await queries.buckets_view(reader, scheme_of(reader.config.delinquency))


@portfolio.get("/roll-rates", response_model=RollRatesOut)
async def roll_rates(
    from_date: date = Query(alias="from", description="business date YYYY-MM-DD"),
    to_date: date = Query(alias="to", description="business date YYYY-MM-DD, on or after `from`"),
    reader: UnitOfWork = Depends(get_reader),
) -> RollRatesOut:
    """Share of the accounts in each bucket on `from` that were in each bucket on `to` (422 for bad dates).

    An account counts when it was known on `from`; before its first bucket change it is in the
    first bucket.
    """
    if from_date > to_date:
        raise HTTPException(status_code=422, detail="`from` must not be after `to`")
    return await queries.roll_rates_view(reader, from_date, to_date, scheme_of(reader.config.delinquency))


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """Delinquency's FastAPI app (OpenAPI at /docs)."""
    app = service_app(runtime, title="Collections Delinquency", description="dpd, buckets, roll rates.")
    app.include_router(accounts)
    app.include_router(portfolio)
    return app
