"""A ledger on the embedded platform (real handler, SQLite or PostgreSQL) for service-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.testing import make_event
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event
from collections_ledger.adapters.spec import SPEC


class LedgerRig:
    """Feeds events to the ledger and keeps what it published, in order."""

    def __init__(self, url: str, config: PlatformConfig) -> None:
        self.published: list[Envelope] = []
        self.runtime = ServiceRuntime(SPEC, Database(url), config)
        self.platform = EmbeddedPlatform([self.runtime], self.published.append)
        self._n = 0

    def event(self, type_name: str, data: dict[str, Any], *, event_id: str | None = None) -> Event:
        self._n += 1
        time = f"2024-01-01T00:00:{self._n % 60:02d}Z"
        return make_event(type_name, data, event_id=event_id or f"e{self._n}", time=time)

    async def feed(self, type_name: str, data: dict[str, Any], *, event_id: str | None = None) -> list[Envelope]:
        """Feed one event and drain; returns what was published because of it."""
        before = len(self.published)
        self.platform.feed(EVENT_TYPES[type_name].topic, self.event(type_name, data, event_id=event_id))
        await self.platform.drain()
        return self.published[before:]

    def client(self) -> httpx.AsyncClient:
        assert SPEC.create_api is not None
        app = SPEC.create_api(self.runtime)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger")


@pytest.fixture
async def make_ledger(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """A factory of started ledger rigs on SQLite (or on `url`); their engines are closed after the test."""
    rigs: list[LedgerRig] = []

    async def make(config: PlatformConfig | None = None, url: str | None = None) -> LedgerRig:
        rig = LedgerRig(url or f"sqlite+aiosqlite:///{tmp_path}/ledger-{len(rigs)}.sqlite3", config or PlatformConfig())
        rigs.append(rig)
        await rig.platform.start()
        return rig

    yield make
    for rig in rigs:
        await rig.runtime.db.close()


@pytest.fixture
async def ledger(make_ledger: Callable[..., Any]) -> LedgerRig:
    """A started ledger on a fresh SQLite file with the default configuration."""
    rig: LedgerRig = await make_ledger()
    return rig
