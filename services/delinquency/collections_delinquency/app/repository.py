"""Delinquency's accounts for one transaction, in its own tables: read once per batch, written once.

`DelinquencyAccounts.of(uow)` is the transaction's repository (collections_events.store.repository,
decision 0008). On PostgreSQL `prefetch` takes the clock's share lock and reads the batch's
accounts in one `account_id = ANY($1) … FOR UPDATE` query (lock order: always the clock, then
accounts, so a close and a balance change never deadlock); `get`/`put` work in memory; `flush`
writes the new accounts (one insert), the changed ones (one executemany update) and the bucket
history, before the transaction's platform writes. A close flushes first and forgets the cache
(`begin_close`), then reads and updates the waking accounts in chunks (`waking`, `write_closed`).

Rows: `dues` is compact JSON `[["YYYY-MM-DD", unpaid_minor], ...]` oldest first (money in minor
units); `wake_on` the next business date whose close can change the account; `known_since` the
last closed date when it was first seen (None before the first close).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, text, update

from collections_delinquency.app.facts import scheme_of
from collections_delinquency.app.tables import OWN
from collections_delinquency.domain.account import DelinquencyAccount, wake_on
from collections_delinquency.domain.standing import UnpaidDue
from collections_events.store import clock
from collections_events.store.repository import BatchRepository
from collections_events.store.statements import execute, fetch_all, fetch_one
from collections_events.store.uow import UnitOfWork

ACCOUNTS = OWN["accounts"]
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


def _published(account: DelinquencyAccount, wake: date | None) -> dict[str, Any]:
    """What a close changes of a row: the published state and the next wake date."""
    return {
        "bucket": account.bucket,
        "delinquent_since": account.delinquent_since,
        "charged_off": account.charged_off,
        "wake_on": wake,
    }


_LOAD_ACCOUNT = (
    select(*ACCOUNT_COLUMNS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id", type_=ACCOUNTS.c.account_id.type))
    .with_for_update()
)
_PREFETCH = text(
    f"SELECT account_id, dues, bucket, delinquent_since, charged_off FROM {ACCOUNTS.name} "
    "WHERE account_id = ANY(CAST(:ids AS varchar[])) ORDER BY account_id FOR UPDATE"
)
_WAKING = (
    select(*ACCOUNT_COLUMNS)
    .where(
        ACCOUNTS.c.wake_on <= bindparam("b_as_of", type_=ACCOUNTS.c.wake_on.type),
        ACCOUNTS.c.account_id > bindparam("b_after", type_=ACCOUNTS.c.account_id.type),
    )
    .order_by(ACCOUNTS.c.account_id)
    .limit(bindparam("b_limit", type_=Integer()))
    .with_for_update()
)
_INSERT_ACCOUNT = insert(ACCOUNTS)
_INSERT_HISTORY = insert(HISTORY)
_UPDATE_ACCOUNT = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id"))
    .values(**{c: bindparam(c) for c in ("dues", "bucket", "delinquent_since", "charged_off", "wake_on")})
)
"""One statement for many accounts (executemany)."""
_UPDATE_PUBLISHED = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.account_id == bindparam("b_account_id"))
    .values(**{c: bindparam(c) for c in ("bucket", "delinquent_since", "charged_off", "wake_on")})
)
"""A close changes no dues: only what was published and the next wake date (executemany)."""


class DelinquencyAccounts(BatchRepository[DelinquencyAccount]):
    """The transaction's delinquency accounts; see the module docstring."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._known: dict[str, DelinquencyAccount | None] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._changed: dict[str, dict[str, Any]] = {}
        self._history: list[dict[str, object]] = []

    async def last_closed(self) -> date | None:
        """The last closed business date, under the clock's share lock (a close on another replica waits)."""
        return await clock.last_closed(self.uow, lock="share")

    async def prefetch(self, account_ids: Iterable[str]) -> None:
        """The clock, then the accounts of `account_ids` not read yet (locked), in one query on PostgreSQL."""
        await self.last_closed()
        ids = [a for a in dict.fromkeys(account_ids) if a not in self._known]
        if not ids or not self.uow.state.postgres:
            return
        rows = await self.uow.session.execute(_PREFETCH, {"ids": ids})
        found = {row[0]: account_from(tuple(row)) for row in rows}
        for account_id in ids:
            self._known[account_id] = found.get(account_id)

    async def get(self, account_id: str) -> DelinquencyAccount | None:
        """The account (locked for update), or None when it was never seen."""
        if account_id not in self._known:
            row = await fetch_one(self.uow.session, _LOAD_ACCOUNT, {"b_account_id": account_id})
            self._known[account_id] = account_from(row) if row is not None else None
        return self._known[account_id]

    async def put(self, account_id: str, value: DelinquencyAccount) -> None:
        """Keep `value`, with its next wake date from the last closed date; written by `flush`."""
        closed = await self.last_closed()
        cfg = self.uow.config.delinquency
        values = {
            "dues": encode_dues(value.dues),
            **_published(value, wake_on(value, closed, scheme_of(cfg), cfg.charge_off_dpd)),
        }
        if self._known.get(account_id) is None and account_id not in self._changed:
            self._new[account_id] = {"account_id": account_id, "known_since": closed, **values}
        elif account_id in self._new:
            self._new[account_id].update(values)
        else:
            self._changed[account_id] = {"b_account_id": account_id, **values}
        self._known[account_id] = value

    def add_history(self, rows: list[dict[str, object]]) -> None:
        """Bucket changes (`account_id`, `as_of`, `bucket`) to append."""
        self._history.extend(rows)

    async def flush(self) -> None:
        """Write what is pending: new accounts, changed accounts, bucket history (in that order)."""
        session = self.uow.session
        if self._new:
            new, self._new = list(self._new.values()), {}
            await execute(session, _INSERT_ACCOUNT, new)
        if self._changed:
            changed, self._changed = list(self._changed.values()), {}
            await execute(session, _UPDATE_ACCOUNT, changed)
        if self._history:
            history, self._history = self._history, []
            await execute(session, _INSERT_HISTORY, history)

    async def begin_close(self) -> None:
        """Write what is pending and forget the cache: a close updates accounts in the table."""
        await self.flush()
        self._known.clear()

    async def waking(self, as_of: date, *, after: str, limit: int) -> list[tuple[str, DelinquencyAccount]]:
        """Up to `limit` accounts (locked) with wake_on <= `as_of` and account_id > `after`, by account_id."""
        rows = await fetch_all(self.uow.session, _WAKING, {"b_as_of": as_of, "b_after": after, "b_limit": limit})
        return [(row[0], account_from(row)) for row in rows]

    async def write_closed(
        self, closed: list[tuple[str, DelinquencyAccount, date | None]], history: list[dict[str, object]]
    ) -> None:
        """After a close's chunk: (account_id, account, wake date) rows in one executemany, then bucket history."""
        rows = [{"b_account_id": account_id, **_published(a, wake)} for account_id, a, wake in closed]
        await execute(self.uow.session, _UPDATE_PUBLISHED, rows)
        await execute(self.uow.session, _INSERT_HISTORY, history)
