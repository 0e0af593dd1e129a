"""`/docs` and `/redoc` of every service's API and of the operations page work with no network (issue 15).

Each app is served for real (uvicorn on a free port, the service on an embedded SQLite database) and
loaded in headless Chromium, where every request that leaves the machine fails: Swagger UI must draw
the service's operations and ReDoc its reference, with no console error and no failed request (the
assets come from the `fastapi-offline` package, not a CDN).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.testing import served
from collections_events.transport.embedded import EmbeddedPlatform
from collections_platform.ops_page import ops_app
from collections_platform.services import SPECS
from collections_platform.summary import Summary

# A path each service's Swagger UI must list (an operation of its own, not only /health).
OPERATIONS = {
    "ledger": "/accounts/{account_id}/events",
    "delinquency": "/roll-rates",
    "outreach": "/accounts/{account_id}/trail/verify",
    "legal": "/cases/{case_id}/moves",
}


@asynccontextmanager
async def _service_app(name: str, tmp_path: Path) -> AsyncIterator[Any]:
    spec = next(s for s in SPECS if s.name == name)
    assert spec.create_api is not None
    runtime = ServiceRuntime(spec, Database(f"sqlite+aiosqlite:///{tmp_path}/{name}.sqlite3"), PlatformConfig())
    platform = EmbeddedPlatform([runtime], lambda envelope: None)
    await platform.start()
    try:
        yield spec.create_api(runtime)
    finally:
        await runtime.db.close()


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_a_services_docs_and_redoc_render_offline(
    name: str, tmp_path: Path, render_page: Callable[..., Any]
) -> None:
    async with _service_app(name, tmp_path) as app, served(app) as url:
        docs = await render_page(f"{url}/docs", wait_for=".opblock")
        docs.assert_clean()
        assert OPERATIONS[name] in docs.text, docs.text[:2000]
        assert "/health" in docs.text and "/ready" in docs.text

        redoc = await render_page(f"{url}/redoc", wait_for="[data-section-id]")
        redoc.assert_clean()
        assert OPERATIONS[name] in redoc.text or OPERATIONS[name].split("{")[0] in redoc.text, redoc.text[:2000]


async def test_the_operations_pages_docs_render_offline(render_page: Callable[..., Any]) -> None:
    async with served(ops_app(Summary(["current", "1-29"]).figures(), [])) as url:
        docs = await render_page(f"{url}/docs", wait_for=".opblock")
        docs.assert_clean()
        assert "/summary.json" in docs.text
        redoc = await render_page(f"{url}/redoc", wait_for="[data-section-id]")
        redoc.assert_clean()
        assert "summary.json" in redoc.text
