"""Delinquency's HTTP API (issue 3): an account's standing, counts per bucket, roll rates.

Everything is as of the last closed business date; `/health` and `/ready` come from `service_app`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_delinquency.adapters.roll_rates import transitions
from collections_delinquency.app import state
from collections_delinquency.app.handlers import scheme_of
from collections_delinquency.app.state import bucket_counts
from collections_delinquency.domain.standing import standing_at
from collections_events.api import get_runtime, get_session, service_app
from collections_events.runtime.runtime import ServiceRuntime


class AccountOut(BaseModel):
    """An account's delinquency at the close of `as_of` (null before the first close); money in minor units."""

    account_id: str
    as_of: date | None
    dpd: int
    bucket: str
    delinquent_since: date | None
    past_due_minor: int
    charged_off: bool


class BucketCount(BaseModel):
    """How many accounts are in `bucket`."""

    bucket: str
    accounts: int


class BucketsOut(BaseModel):
    """Counts per bucket (every bucket of the scheme, lowest first) at the close of `as_of`."""

    as_of: date | None
    buckets: list[BucketCount]


class RollCell(BaseModel):
    """Accounts that were in the row's bucket on `from` and in `bucket` on `to`, and their share."""

    bucket: str
    accounts: int
    share: float


class RollRow(BaseModel):
    """Where the accounts in `from_bucket` on `from` were on `to` (shares sum to 1 when accounts > 0)."""

    from_bucket: str
    accounts: int
    to: list[RollCell]


class RollRatesOut(BaseModel):
    """The bucket transition matrix between two business dates."""

    from_date: date
    to_date: date
    rows: list[RollRow]


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """Delinquency's FastAPI app (OpenAPI at /docs)."""
    app = service_app(runtime, title="Collections delinquency", description="dpd, buckets, roll rates.")

    @app.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
    async def account(
        account_id: str,
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> AccountOut:
        """The account's dpd, bucket, delinquent_since and past-due amount as of the last close; 404 if unknown."""
        row = (
            await session.execute(select(*state.ACCOUNT_COLUMNS).where(state.ACCOUNTS.c.account_id == account_id))
        ).first()
        if row is None:
            raise HTTPException(status_code=404, detail=f"unknown account {account_id}")
        closed = await session.scalar(select(state.CLOCK.c.last_closed))
        held = state.account_from(row)
        if closed is None:
            return AccountOut(
                account_id=account_id,
                as_of=None,
                dpd=0,
                bucket=held.bucket,
                delinquent_since=None,
                past_due_minor=0,
                charged_off=held.charged_off,
            )
        now = standing_at(held.dues, closed, scheme_of(rt.config.delinquency))
        return AccountOut(
            account_id=account_id,
            as_of=closed,
            dpd=now.dpd,
            bucket=now.bucket,
            delinquent_since=now.delinquent_since,
            past_due_minor=now.past_due_minor,
            charged_off=held.charged_off,
        )

    @app.get("/buckets", response_model=BucketsOut, tags=["portfolio"])
    async def buckets(
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> BucketsOut:
        """How many known accounts (current ones included) are in each bucket as of the last close."""
        closed = await session.scalar(select(state.CLOCK.c.last_closed))
        names = scheme_of(rt.config.delinquency).names
        counts = await bucket_counts(session)
        return BucketsOut(
            as_of=closed,
            buckets=[BucketCount(bucket=b, accounts=counts.get(b, 0)) for b in _ordered(names, counts)],
        )

    @app.get("/roll-rates", response_model=RollRatesOut, tags=["portfolio"])
    async def roll_rates(
        from_date: date = Query(alias="from", description="business date YYYY-MM-DD"),
        to_date: date = Query(alias="to", description="business date YYYY-MM-DD, on or after `from`"),
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> RollRatesOut:
        """Share of the accounts in each bucket on `from` that were in each bucket on `to` (422 for bad dates).

        An account counts when it was known on `from`; before its first bucket change it is in the
        first bucket.
        """
        if from_date > to_date:
            raise HTTPException(status_code=422, detail="`from` must not be after `to`")
        scheme = scheme_of(rt.config.delinquency)
        matrix = await transitions(session, from_date, to_date, scheme.first)
        sources = {f for f, _ in matrix}
        targets = {t for _, t in matrix}
        rows = []
        for f in _ordered(scheme.names, sources):
            total = sum(n for (a, _), n in matrix.items() if a == f)
            counts = [(t, matrix.get((f, t), 0)) for t in _ordered(scheme.names, targets)]
            cells = [RollCell(bucket=t, accounts=n, share=n / total if total else 0.0) for t, n in counts]
            rows.append(RollRow(from_bucket=f, accounts=total, to=cells))
        return RollRatesOut(from_date=from_date, to_date=to_date, rows=rows)

    return app


def _ordered(names: tuple[str, ...], seen: Iterable[str]) -> list[str]:
    """The scheme's buckets in order, then any stored bucket the scheme no longer has (config changed)."""
    extra = sorted(b for b in set(seen) if b not in names)
    return [*names, *extra]
