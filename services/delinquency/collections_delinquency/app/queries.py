"""Delinquency's read models: an account's standing, counts per bucket, roll rates (decision 0008).

The views take a unit of work used for reading only (its session, and the `$clock` snapshot through
collections_events.store.clock, no lock) and return response models; everything is as of the last
closed business date. A bucket on date X is the one of the account's last bucket change with `as_of <= X` (the
history table), or the first bucket when there is none. Portable SQL (window functions): SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel
from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from collections_delinquency.app.repository import ACCOUNT_COLUMNS, ACCOUNTS, HISTORY, account_from
from collections_delinquency.domain.standing import BucketScheme, standing_at
from collections_events.store import clock
from collections_events.store.uow import UnitOfWork


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


async def account_view(reader: UnitOfWork, account_id: str, scheme: BucketScheme) -> AccountOut | None:
    """The account's dpd, bucket, delinquent_since and past-due amount as of the last close; None if unknown."""
    query = select(*ACCOUNT_COLUMNS).where(ACCOUNTS.c.account_id == account_id)
    row = (await reader.session.execute(query)).first()
    if row is None:
        return None
    closed = await clock.last_closed(reader)
    held = account_from(row)
    now = standing_at(held.dues, closed, scheme) if closed is not None else None
    return AccountOut(
        account_id=account_id,
        as_of=closed,
        dpd=now.dpd if now else 0,
        bucket=now.bucket if now else held.bucket,
        delinquent_since=now.delinquent_since if now else None,
        past_due_minor=now.past_due_minor if now else 0,
        charged_off=held.charged_off,
    )


async def bucket_counts(session: AsyncSession) -> dict[str, int]:
    """How many accounts hold each last-published bucket (that is the bucket as of the last close)."""
    rows = await session.execute(select(ACCOUNTS.c.bucket, func.count()).group_by(ACCOUNTS.c.bucket))
    return {bucket: int(n) for bucket, n in rows}


async def buckets_view(reader: UnitOfWork, scheme: BucketScheme) -> BucketsOut:
    """How many known accounts (current ones included) are in each bucket as of the last close."""
    closed = await clock.last_closed(reader)
    counts = await bucket_counts(reader.session)
    return BucketsOut(
        as_of=closed,
        buckets=[BucketCount(bucket=b, accounts=counts.get(b, 0)) for b in _ordered(scheme.names, counts)],
    )


async def roll_rates_view(reader: UnitOfWork, from_date: date, to_date: date, scheme: BucketScheme) -> RollRatesOut:
    """Share of the accounts in each bucket on `from_date` that were in each bucket on `to_date`."""
    matrix = await transitions(reader.session, from_date, to_date, scheme.first)
    sources = {f for f, _ in matrix}
    targets = {t for _, t in matrix}
    rows = []
    for f in _ordered(scheme.names, sources):
        total = sum(n for (a, _), n in matrix.items() if a == f)
        counts = [(t, matrix.get((f, t), 0)) for t in _ordered(scheme.names, targets)]
        cells = [RollCell(bucket=t, accounts=n, share=n / total if total else 0.0) for t, n in counts]
        rows.append(RollRow(from_bucket=f, accounts=total, to=cells))
    return RollRatesOut(from_date=from_date, to_date=to_date, rows=rows)


def _ordered(names: tuple[str, ...], seen: Iterable[str]) -> list[str]:
    """The scheme's buckets in order, then any stored bucket the scheme no longer has (config changed)."""
    extra = sorted(b for b in set(seen) if b not in names)
    return [*names, *extra]


def _bucket_on(on: date, name: str) -> Subquery:
    """Each account's bucket changes up to `on`, newest ranked 1."""
    return (
        select(
            HISTORY.c.account_id,
            HISTORY.c.bucket,
            func.row_number()
            .over(partition_by=HISTORY.c.account_id, order_by=(HISTORY.c.as_of.desc(), HISTORY.c.seq.desc()))
            .label("rn"),
        )
        .where(HISTORY.c.as_of <= on)
        .subquery(name)
    )


async def transitions(session: AsyncSession, from_date: date, to_date: date, first: str) -> dict[tuple[str, str], int]:
    """Counts of accounts by (bucket on `from_date`, bucket on `to_date`), over accounts known on `from_date`."""
    a = _bucket_on(from_date, "a")
    b = _bucket_on(to_date, "b")
    from_bucket = func.coalesce(a.c.bucket, literal(first)).label("from_bucket")
    to_bucket = func.coalesce(b.c.bucket, literal(first)).label("to_bucket")
    query = (
        select(from_bucket, to_bucket, func.count())
        .select_from(
            ACCOUNTS.outerjoin(a, and_(a.c.account_id == ACCOUNTS.c.account_id, a.c.rn == 1)).outerjoin(
                b, and_(b.c.account_id == ACCOUNTS.c.account_id, b.c.rn == 1)
            )
        )
        .where(or_(ACCOUNTS.c.known_since.is_(None), ACCOUNTS.c.known_since <= from_date))
        .group_by(from_bucket, to_bucket)
    )
    return {(f, t): int(n) for f, t, n in await session.execute(query)}
