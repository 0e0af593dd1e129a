"""Assemble the embedded default: every service on SQLite files in one directory, one in-process log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.transport.embedded import EmbeddedPlatform
from collections_platform.services import available_specs


def sqlite_url(state_dir: Path, service: str) -> str:
    """The embedded SQLite database of `service` under `state_dir`."""
    return f"sqlite+aiosqlite:///{state_dir / f'{service}.sqlite3'}"


def build_embedded(
    state_dir: Path,
    config: PlatformConfig,
    on_publish: Callable[[Envelope], None],
    *,
    durable: bool = True,
    on_structured: Callable[[str], None] | None = None,
) -> EmbeddedPlatform:
    """An embedded platform whose services keep their state under `state_dir` (one file each).

    `durable=False` for state rebuilt from scratch anyway (store.database.Database): commits do
    not wait for the disk, which survives a process crash but not an OS crash. `on_structured`:
    see EmbeddedPlatform.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    # No Prometheus metrics here (ServiceRuntime.record_metrics): the run's figures are its summary.
    runtimes = [
        ServiceRuntime(spec, Database(sqlite_url(state_dir, spec.name), durable=durable), config, record_metrics=False)
        for spec in available_specs()
    ]
    return EmbeddedPlatform(runtimes, on_publish, on_structured)


async def close_embedded(platform: EmbeddedPlatform) -> None:
    """Dispose of every service's database engine."""
    for runtime in platform.runtimes:
        await runtime.db.close()
