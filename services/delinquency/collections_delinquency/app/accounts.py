"""Delinquency's accounts and clock for one transaction: read once per batch, written once (issue 14).

A poll's balance changes are handled in one transaction (docs/decisions/0007). `Accounts.of(uow)`
is that transaction's repository: `prefetch` reads the batch's accounts in one
`account_id = ANY($1) FOR UPDATE` query and the clock once (FOR SHARE); `load`/`put` work in memory;
`flush` writes the new accounts (one insert), the changed ones (one executemany update) and the
bucket history, and runs before the transaction's other writes. A close flushes first and then
forgets the cache, since it updates accounts in the table itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text

from collections_delinquency.app import state
from collections_delinquency.domain.account import DelinquencyAccount
from collections_events.store.uow import UnitOfWork

_KEY = "delinquency.accounts"
_UNREAD = object()


@dataclass
class Accounts:
    """The transaction's delinquency accounts; see the module docstring."""

    uow: UnitOfWork
    _clock: Any = _UNREAD
    _known: dict[str, DelinquencyAccount | None] = field(default_factory=dict)
    _new: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    _history: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def of(cls, uow: UnitOfWork) -> Accounts:
        """The repository of `uow`'s transaction (made on first use; flushed before the commit)."""
        found = uow.state.memo.get(_KEY)
        if found is None:
            found = uow.state.memo[_KEY] = cls(uow)
            uow.state.before_write.append(found.flush)
        assert isinstance(found, Accounts)
        return found

    async def prefetch(self, account_ids: Iterable[str]) -> None:
        """Read (and lock) the accounts of `account_ids` not read yet, in one query on PostgreSQL."""
        ids = [a for a in dict.fromkeys(account_ids) if a not in self._known]
        if not ids or not self.uow.state.postgres:
            return
        rows = await self.uow.session.execute(
            text(
                f"SELECT account_id, dues, bucket, delinquent_since, charged_off FROM {state.ACCOUNTS.name} "
                "WHERE account_id = ANY(CAST(:ids AS varchar[])) ORDER BY account_id FOR UPDATE"
            ),
            {"ids": ids},
        )
        found = {row[0]: state.account_from(tuple(row)) for row in rows}
        for account_id in ids:
            self._known[account_id] = found.get(account_id)

    async def last_closed(self) -> date | None:
        """The last closed business date, read once per transaction (FOR SHARE: a close waits)."""
        if self._clock is _UNREAD:
            self._clock = await state.last_closed(self.uow.session, for_update=False)
        value: date | None = self._clock
        return value

    def closed(self, as_of: date) -> None:
        """Note that this transaction closed `as_of` (the clock row is already updated)."""
        self._clock = as_of

    async def load(self, account_id: str) -> DelinquencyAccount | None:
        """The account (locked for update), or None when it was never seen."""
        if account_id not in self._known:
            self._known[account_id] = await state.load_account(self.uow.session, account_id)
        return self._known[account_id]

    def put(self, account_id: str, account: DelinquencyAccount, wake: date | None, known_since: date | None) -> None:
        """Keep `account` with its next wake date; written by `flush`."""
        values = state.account_values(account, wake)
        if self._known.get(account_id) is None and account_id not in self._changed:
            self._new[account_id] = {"account_id": account_id, "known_since": known_since, **values}
        elif account_id in self._new:
            self._new[account_id].update(values)
        else:
            self._changed[account_id] = {"b_account_id": account_id, **values}
        self._known[account_id] = account

    def add_history(self, rows: list[dict[str, object]]) -> None:
        """Bucket changes (`account_id`, `as_of`, `bucket`) to append."""
        self._history.extend(rows)

    async def flush(self) -> None:
        """Write what is pending: new accounts, changed accounts, bucket history (in that order)."""
        session = self.uow.session
        if self._new:
            new, self._new = list(self._new.values()), {}
            await state.insert_accounts(session, new)
        if self._changed:
            changed, self._changed = list(self._changed.values()), {}
            await state.update_accounts(session, changed)
        if self._history:
            history, self._history = self._history, []
            await state.add_history(session, history)

    async def before_close(self) -> None:
        """Write what is pending and forget the cache: a close updates accounts in the table."""
        await self.flush()
        self._known.clear()
