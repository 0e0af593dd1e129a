"""The one way a service holds its per-account state: a repository per transaction (issue 18).

Every service has one repository class in `app/repository.py` with the same small interface:

- `Repo.of(uow)`: the repository of `uow`'s transaction, made on first use and shared by every unit
  of work of the batch (docs/decisions/0007), its `flush` run before the platform's own writes;
- `await repo.prefetch(account_ids)`: read what the batch will need in one round trip;
- `await repo.get(account_id)`: the account's state as a domain value, or None when never seen;
- `await repo.put(account_id, value)`: keep the new state (written at the end of the batch).

Two bases give it: `SnapshotRepository` keeps the state as the JSON snapshot of a stream in the
service's `snapshots` table (ledger, outreach, legal), with the optimistic version check and the
indexed wake date; `BatchRepository` is the base for state in a service's own tables (delinquency),
which implements `prefetch`/`get`/`put`/`flush` on them. Handlers never see rows or JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import date
from typing import Any, Generic, Self, TypeVar

from collections_events.store.uow import UnitOfWork

V = TypeVar("V")


class BatchRepository(ABC, Generic[V]):
    """A service's per-transaction repository (see the module docstring); subclass per service."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    @classmethod
    def of(cls, uow: UnitOfWork) -> Self:
        """The repository of `uow`'s transaction: one per batch, flushed before the commit."""
        key = f"repository:{cls.__module__}.{cls.__qualname__}"
        found = uow.state.memo.get(key)
        if found is None:
            found = uow.state.memo[key] = cls(uow)
            uow.state.before_write.append(found.flush)
        assert isinstance(found, cls)
        return found

    async def prefetch(self, account_ids: Iterable[str]) -> None:
        """Read the state of `account_ids` in one round trip (PostgreSQL); by default nothing."""

    @abstractmethod
    async def get(self, account_id: str) -> V | None:
        """The account's state, or None when the service never saw the account."""

    @abstractmethod
    async def put(self, account_id: str, value: V) -> None:
        """Keep `value` as the account's state; written by `flush` (or by the batch) at the end."""

    async def flush(self) -> None:
        """Write what `put` kept; called once before the batch's platform writes. By default nothing."""


class SnapshotRepository(BatchRepository[V]):
    """State kept as one JSON snapshot per account in the service's `snapshots` table.

    Subclasses give `encode`/`decode` (the JSON shape is the service's own; keep it stable, it is
    stored) and `wake_on` (the business date the account next needs a close, or None). `stream`
    maps an account id to its stream id (by default the account id itself). A value equal to the
    one read is not written again. `put` raises ConcurrencyError when another writer saved first.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._read: dict[str, tuple[int, V | None]] = {}

    def stream(self, account_id: str) -> str:
        """The snapshot stream id of `account_id`."""
        return account_id

    @abstractmethod
    def encode(self, value: V) -> dict[str, Any]:
        """`value` as the JSON object stored."""

    @abstractmethod
    def decode(self, account_id: str, state: dict[str, Any]) -> V:
        """The inverse of `encode`."""

    @abstractmethod
    def wake_on(self, value: V) -> date | None:
        """The business date on which the account next needs a `day.closed`, or None."""

    async def prefetch(self, account_ids: Iterable[str]) -> None:
        """Read the snapshots (and stream versions) of `account_ids` in one query each."""
        await self.uow.state.prefetch([self.stream(a) for a in account_ids])

    async def get(self, account_id: str) -> V | None:
        """The account's state, or None when it has no snapshot."""
        known = self._read.get(account_id)
        if known is not None:
            return known[1]
        snapshot = await self.uow.load(self.stream(account_id))
        value = None if snapshot is None else self.decode(account_id, snapshot.state)
        self._read[account_id] = (snapshot.version if snapshot else 0, value)
        return value

    async def version(self, account_id: str) -> int:
        """The snapshot's version as this transaction sees it (0: none yet)."""
        await self.get(account_id)
        return self._read[account_id][0]

    async def put(self, account_id: str, value: V) -> None:
        """Save `value` as the next version of the account's snapshot (unless it is unchanged)."""
        if account_id not in self._read:
            await self.get(account_id)
        version, before = self._read[account_id]
        if version and before == value:
            return
        saved = await self.uow.save(
            self.stream(account_id), self.encode(value), expected_version=version, wake_on=self.wake_on(value)
        )
        self._read[account_id] = (saved, value)

    async def waking(self, on_or_before: date) -> list[str]:
        """Account ids whose wake date is on or before `on_or_before`, in stream order (indexed).

        Assumes `stream` is the identity (override both together); the clock's `$` stream never wakes.
        """
        return [s for s in await self.uow.waking(on_or_before) if not s.startswith("$")]
