"""Portfolio queries over delinquency's tables: bucket transitions between dates (roll rates).

A bucket on date X is the one of the account's last bucket change with `as_of <= X` (the history
table), or the first bucket when there is none. Portable SQL (window functions): SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from collections_delinquency.app.state import ACCOUNTS, HISTORY


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
