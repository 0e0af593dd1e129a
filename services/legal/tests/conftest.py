"""Legal alone on the embedded platform (SQLite), fed synthetic upstream events.

`legal` gives a harness: `send(type, data)` puts one event on its topic, lets legal run until
nothing is left, and returns what legal published for it. Helpers build the upstream facts
(dues, requested contacts with a valid hash chain, flags, promises, arrangements, closes).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collections_events.audit_chain import GENESIS_HASH, record_hash
from collections_events.config import PlatformConfig, parse_config
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event, read_structured
from collections_legal.adapters.api import create_api
from collections_legal.adapters.spec import SPEC
from collections_legal.app.repository import LegalRepository

D0 = date(2026, 1, 10)
"""The due date of the first due in most tests: dpd at D is (D - D0).days."""


class LegalHarness:
    """Legal on its own SQLite database and an embedded log; synthetic upstream events in."""

    def __init__(self, state_dir: Path, config: PlatformConfig) -> None:
        self.runtime = ServiceRuntime(SPEC, Database(f"sqlite+aiosqlite:///{state_dir / 'legal.sqlite3'}"), config)
        self.published: list[Envelope] = []
        self.platform = EmbeddedPlatform([self.runtime], self.published.append)
        self._ids = itertools.count(1)
        self._chains: dict[str, tuple[int, str]] = {}

    async def start(self) -> None:
        await self.platform.start()

    async def stop(self) -> None:
        await self.runtime.db.close()

    # -- feeding ---------------------------------------------------------------------------------
    def event(self, type_name: str, data: dict[str, Any], *, subject: str | None = None) -> Event:
        n = next(self._ids)
        parsed = read_structured(
            {
                "specversion": "1.0",
                "id": f"evt-{n:05d}",
                "source": "tests",
                "type": type_name,
                "subject": subject or data.get("account_id") or "clock",
                "time": "2026-01-01T00:00:00Z",
                "datacontenttype": "application/json",
                "data": data,
            }
        )
        assert isinstance(parsed, Event), parsed
        return parsed

    async def send(self, type_name: str, data: dict[str, Any]) -> list[Envelope]:
        """Feed one event and drain; returns what legal published because of it."""
        before = len(self.published)
        self.platform.feed(EVENT_TYPES[type_name].topic, self.event(type_name, data))
        await self.platform.drain()
        return self.published[before:]

    async def close(self, on: date) -> list[Envelope]:
        return await self.send("day.closed", {"as_of": on.isoformat()})

    async def balance(self, account: str, *dues: tuple[date, int]) -> list[Envelope]:
        unpaid = [
            {"due_id": f"{account}-due-{i}", "due_date": d.isoformat(), "unpaid_minor": amount}
            for i, (d, amount) in enumerate(dues, start=1)
        ]
        return await self.send(
            "ledger.balance_changed",
            {"account_id": account, "unpaid_dues": unpaid, "credit_minor": 0, "cause_id": "c"},
        )

    def record(self, account: str, kind: str, as_of: date | None, *, outcome: str | None = None) -> dict[str, Any]:
        """The next record of `account`'s trail, chained to the previous one."""
        sequence, prev = self._chains.get(account, (0, GENESIS_HASH))
        sequence += 1
        body = {
            "record_id": f"{account}-rec-{sequence}",
            "account_id": account,
            "attempt_id": f"{account}-att-{sequence}",
            "kind": kind,
            "channel": "call",
            "outcome": outcome,
            "occurred_at": "2026-01-01T09:00:00Z",
            "as_of": as_of.isoformat() if as_of else None,
            "sequence": sequence,
            "prev_hash": prev,
        }
        body["hash"] = record_hash(body)
        self._chains[account] = (sequence, body["hash"])
        return body

    async def requests(self, account: str, *as_ofs: date) -> None:
        for as_of in as_ofs:
            await self.send("outreach.contact_recorded", self.record(account, "requested", as_of))

    async def flag(self, account: str, flag: str, *, is_set: bool = True) -> list[Envelope]:
        kind = "account.flag_set" if is_set else "account.flag_cleared"
        return await self.send(kind, {"account_id": account, "flag": flag, "reason": "test"})

    async def bucket(self, account: str, as_of: date, dpd: int, since: date | None) -> list[Envelope]:
        return await self.send(
            "delinquency.bucket_changed",
            {
                "account_id": account,
                "as_of": as_of.isoformat(),
                "dpd": dpd,
                "delinquent_since": since.isoformat() if since else None,
                "from_bucket": "90-119",
                "to_bucket": "current" if dpd == 0 else "90-119",
                "past_due_minor": 0 if dpd == 0 else 100,
            },
        )

    async def delinquent(self, account: str, *, attempts: int = 3, due: date = D0, amount: int = 5000) -> None:
        """An account with one unpaid due on `due` and `attempts` requests as of the days after it."""
        await self.balance(account, (due, amount))
        await self.requests(account, *[due + timedelta(days=i) for i in range(1, attempts + 1)])

    # -- reading ---------------------------------------------------------------------------------
    def of_type(self, events: list[Envelope], type_name: str) -> list[Envelope]:
        return [e for e in events if e.type == type_name]

    async def case_of(self, account: str) -> dict[str, Any] | None:
        async with self.runtime.db.sessions() as session:
            repo = LegalRepository(session, SPEC.tables)
            from collections_legal.app.repository import CaseFilter

            rows, _ = await repo.list_cases(CaseFilter(account_id=account), limit=10, offset=0)
        return rows[-1].to_json() if rows else None

    def client(self) -> httpx.AsyncClient:
        app = create_api(self.runtime)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://legal")


@pytest.fixture
async def legal(tmp_path: Path) -> AsyncIterator[LegalHarness]:
    harness = LegalHarness(tmp_path, PlatformConfig())
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
def make_legal(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of harnesses with a given config (a mapping as in the YAML file)."""
    made: list[LegalHarness] = []

    async def make(raw: dict[str, Any], name: str = "x") -> LegalHarness:
        directory = tmp_path / name
        directory.mkdir()
        harness = LegalHarness(directory, parse_config(raw))
        await harness.start()
        made.append(harness)
        return harness

    yield make
    # engines are disposed by garbage collection at the end of the test session
