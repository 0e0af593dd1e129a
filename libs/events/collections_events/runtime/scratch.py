"""A service on a throwaway SQLite database: where explanations feed an account's events again."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from collections_events.config import PlatformConfig
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.runtime.service import ServiceSpec
from collections_events.store.database import Database


@asynccontextmanager
async def scratch_runtime(spec: ServiceSpec, config: PlatformConfig) -> AsyncIterator[ServiceRuntime]:
    """`spec` with `config` on an empty SQLite database in a temporary directory, deleted at exit."""
    with tempfile.TemporaryDirectory(prefix=f"collections-scratch-{spec.name}-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / f'{spec.name}.sqlite3'}", durable=False)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(spec.metadata.create_all)
            yield ServiceRuntime(spec, db, config, record_metrics=False)
        finally:
            await db.close()
