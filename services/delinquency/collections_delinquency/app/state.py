"""Reading and writing delinquency's rows: accounts (as domain objects), the clock, bucket history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collections_delinquency.app.tables import OWN
from collections_delinquency.domain.account import DelinquencyAccount
from collections_delinquency.domain.standing import UnpaidDue
from collections_events.store.statements import execute, fetch_all, fetch_one, fetch_scalar

ACCOUNTS = OWN["accounts"]
CLOCK = OWN["clock"]
HISTORY = OWN["history"]
ACCOUNT_COLUMNS = (
    ACCOUNTS.c.account_id,
    ACCOUNTS.c.dues,
    ACCOUNTS.c.bucket,
    ACCOUNTS.c.delinquent_since,
    ACCOUNTS.c.charged_off,
)


def encode_dues(dues: Sequence[UnpaidDue]) -> str:
    """Dues as compact JSON `[["YYYY-MM-DD", unpaid_minor], ...]`, oldest first."""
    return json.dumps([[d.due_date.isoformat(), d.unpaid_minor] for d in dues], separators=(",", ":"))


def decode_dues(text: str) -> tuple[UnpaidDue, ...]:
    """The inverse of `encode_dues`."""
    return tuple(UnpaidDue(date.fromisoformat(on), minor) for on, minor in json.loads(text))


def account_from(row: Sequence[Any]) -> DelinquencyAccount:
    """A domain account from a row selected with ACCOUNT_COLUMNS (account_id first)."""
    _account_id, dues, bucket, delinquent_since, charged_off = row
    return DelinquencyAccount(decode_dues(dues), bucket, delinquent_since, charged_off)


_CLOCK_SHARED = select(CLOCK.c.last_closed).where(CLOCK.c.id == 1).with_for_update(read=True)
_CLOCK_EXCLUSIVE = select(CLOCK.c.last_closed).where(CLOCK.c.id == 1).with_for_update()
_SET_CLOCK = (
    update(CLOCK).where(CLOCK.c.id == 1).values(last_closed=bindparam("b_as_of", type_=CLOCK.c.last_closed.type))
)
_LOAD_ACCOUNT = (
    select(*ACCOUNT_COLUMNS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id", type_=ACCOUNTS.c.account_id.type))
    .with_for_update()
)
_INSERT_ACCOUNT = insert(ACCOUNTS)
_INSERT_HISTORY = insert(HISTORY)


async def last_closed(session: AsyncSession, *, for_update: bool) -> date | None:
    """The last closed business date, locking the clock row (shared, or exclusive for a close).

    Lock order is always clock then accounts, so a close and a balance change never deadlock.
    """
    value: date | None = await fetch_scalar(session, _CLOCK_EXCLUSIVE if for_update else _CLOCK_SHARED)
    return value


async def set_last_closed(session: AsyncSession, as_of: date) -> None:
    """Record `as_of` as the last closed business date."""
    await execute(session, _SET_CLOCK, {"b_as_of": as_of})


async def load_account(session: AsyncSession, account_id: str) -> DelinquencyAccount | None:
    """The account's row (locked for update), or None when it was never seen."""
    row = await fetch_one(session, _LOAD_ACCOUNT, {"b_account_id": account_id})
    return account_from(row) if row is not None else None


_WAKING_ACCOUNTS = (
    select(*ACCOUNT_COLUMNS)
    .where(
        ACCOUNTS.c.wake_on <= bindparam("b_as_of", type_=ACCOUNTS.c.wake_on.type),
        ACCOUNTS.c.account_id > bindparam("b_after", type_=ACCOUNTS.c.account_id.type),
    )
    .order_by(ACCOUNTS.c.account_id)
    .limit(bindparam("b_limit", type_=Integer()))
    .with_for_update()
)


async def waking_accounts(session: AsyncSession, as_of: date, *, after: str, limit: int) -> list[tuple[Any, ...]]:
    """Up to `limit` accounts (ACCOUNT_COLUMNS rows, locked) with wake_on <= `as_of` and id > `after`, by id."""
    return await fetch_all(session, _WAKING_ACCOUNTS, {"b_as_of": as_of, "b_after": after, "b_limit": limit})


def account_values(account: DelinquencyAccount, wake: date | None) -> dict[str, Any]:
    """The row values of `account` (all but the key and `known_since`)."""
    return {
        "dues": encode_dues(account.dues),
        "bucket": account.bucket,
        "delinquent_since": account.delinquent_since,
        "charged_off": account.charged_off,
        "wake_on": wake,
    }


async def insert_accounts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store accounts seen for the first time: rows of `account_id`, `known_since` and `account_values`."""
    await execute(session, _INSERT_ACCOUNT, rows)


UPDATE_ACCOUNT = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id"))
    .values(
        dues=bindparam("dues"),
        bucket=bindparam("bucket"),
        delinquent_since=bindparam("delinquent_since"),
        charged_off=bindparam("charged_off"),
        wake_on=bindparam("wake_on"),
    )
)
"""One statement for many accounts (executemany): rows are dicts of `account_values` plus `b_account_id`."""


UPDATE_PUBLISHED = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id"))
    .values(
        bucket=bindparam("bucket"),
        delinquent_since=bindparam("delinquent_since"),
        charged_off=bindparam("charged_off"),
        wake_on=bindparam("wake_on"),
    )
)
"""A close changes no dues: only what was published and the next wake date (executemany)."""


async def update_accounts(session: AsyncSession, rows: list[dict[str, Any]], *, with_dues: bool = True) -> None:
    """Write many accounts in one executemany round (`with_dues=False`: published state and wake only)."""
    await execute(session, UPDATE_ACCOUNT if with_dues else UPDATE_PUBLISHED, rows)


async def add_history(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append bucket changes (`account_id`, `as_of`, `bucket`) to the history."""
    await execute(session, _INSERT_HISTORY, rows)
