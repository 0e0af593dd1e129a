"""The runtime feeds the metrics that dashboards and alerts read, and every service app serves them."""

from __future__ import annotations

from pathlib import Path

import httpx

from collections_events.api import service_app
from collections_events.config import PlatformConfig
from collections_events.metrics import setup_metrics
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.testing import make_envelope
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event, read_structured
from collections_ledger.adapters.spec import SPEC


async def test_a_processed_event_shows_in_metrics(tmp_path: Path) -> None:
    metrics = setup_metrics("ledger")
    runtime = ServiceRuntime(SPEC, Database(f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"), PlatformConfig())
    platform = EmbeddedPlatform([runtime], on_publish=lambda _e: None)
    await platform.start()
    data = {
        "account_id": "A1",
        "due_id": "d1",
        "due_date": "2026-01-10",
        "amount_due_minor": 1,
        "statement_balance_minor": 1,
    }
    due = make_envelope("payment.due", data)
    parsed = read_structured(due.to_structured())
    assert isinstance(parsed, Event)
    platform.feed("billing", parsed)
    await platform.drain()

    app = service_app(runtime, title="ledger")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        text = (await client.get("/metrics")).text
    await runtime.db.close()
    consumed = [
        line
        for line in text.splitlines()
        if line.startswith("messaging_client_consumed_messages_total{") and 'collections_outcome="processed"' in line
    ]
    assert consumed and float(consumed[0].rsplit(" ", 1)[1]) >= 1
    assert metrics.service == "ledger"
