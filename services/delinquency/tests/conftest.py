"""Ledger and delinquency together on the embedded platform (real handlers) for service-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collections_delinquency.adapters.spec import SPEC as DELINQUENCY
from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.testing import make_event
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event
from collections_ledger.adapters.spec import SPEC as LEDGER


class Rig:
    """Feeds inbound events through ledger then delinquency and keeps everything they published."""

    def __init__(self, urls: tuple[str, str], config: PlatformConfig) -> None:
        self.published: list[Envelope] = []
        self.ledger = ServiceRuntime(LEDGER, Database(urls[0]), config)
        self.delinquency = ServiceRuntime(DELINQUENCY, Database(urls[1]), config)
        self.platform = EmbeddedPlatform([self.ledger, self.delinquency], self.published.append)
        self.n = 0

    def event(self, type_name: str, data: dict[str, Any], *, event_id: str | None = None) -> Event:
        self.n += 1
        return make_event(type_name, data, event_id=event_id or f"in-{self.n}", time="2024-01-01T12:00:00Z")

    async def feed(self, type_name: str, data: dict[str, Any], *, event_id: str | None = None) -> list[Envelope]:
        """Feed one inbound event, drain both services; returns what was published because of it."""
        before = len(self.published)
        self.platform.feed(EVENT_TYPES[type_name].topic, self.event(type_name, data, event_id=event_id))
        await self.platform.drain()
        return self.published[before:]

    async def due(self, account: str, due_id: str, on: str, amount: int) -> list[Envelope]:
        return await self.feed(
            "payment.due",
            {
                "account_id": account,
                "due_id": due_id,
                "due_date": on,
                "amount_due_minor": amount,
                "statement_balance_minor": amount,
            },
        )

    async def pay(self, account: str, payment_id: str, amount: int, on: str = "2024-01-01") -> list[Envelope]:
        data = {"account_id": account, "payment_id": payment_id, "amount_minor": amount, "received_on": on}
        return await self.feed("payment.received", data)

    async def close(self, on: str, *, event_id: str | None = None) -> list[Envelope]:
        return await self.feed("day.closed", {"as_of": on}, event_id=event_id or f"close-{on}")

    def client(self) -> httpx.AsyncClient:
        assert DELINQUENCY.create_api is not None
        app = DELINQUENCY.create_api(self.delinquency)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://delinquency")

    async def aclose(self) -> None:
        await self.ledger.db.close()
        await self.delinquency.db.close()


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """A factory of started rigs on SQLite files (or on the two `urls` given); closed after the test."""
    rigs: list[Rig] = []

    async def make(config: PlatformConfig | None = None, urls: tuple[str, str] | None = None) -> Rig:
        n = len(rigs)
        urls = urls or (
            f"sqlite+aiosqlite:///{tmp_path}/ledger-{n}.sqlite3",
            f"sqlite+aiosqlite:///{tmp_path}/delinquency-{n}.sqlite3",
        )
        rig = Rig(urls, config or PlatformConfig())
        rigs.append(rig)
        await rig.platform.start()
        return rig

    yield make
    for rig in rigs:
        await rig.aclose()


@pytest.fixture
async def rig(make_rig: Callable[..., Any]) -> Rig:
    """Ledger and delinquency on fresh SQLite files with the default configuration."""
    made: Rig = await make_rig()
    return made
