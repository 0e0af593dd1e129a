"""`collections-<service> migrate|run` as an operator runs it (here the ledger's)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from collections_events.testing import service_command


def ledger(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [service_command("ledger")[0], *args]
    return subprocess.run(
        command, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}, capture_output=True, text=True, timeout=60
    )


def test_a_bad_config_stops_the_start_with_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("outreach:\n  call_cap:\n    days: 0\n")
    done = ledger("run", env={"COLLECTIONS_CONFIG": str(config), "DATABASE_URL": "sqlite:///x"}, tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "collections-ledger: config: outreach.call_cap.days: Input should be greater than or equal to 1"
    ]


def test_missing_settings_are_named(tmp_path: Path) -> None:
    done = ledger("run", env={}, tmp_path=tmp_path)
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr
    done = ledger("run", env={"DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}, tmp_path=tmp_path)
    assert done.returncode == 2 and "KAFKA_BOOTSTRAP_SERVERS" in done.stderr


@pytest.mark.postgres
async def test_migrate_creates_the_tables_and_exits(pg_url: str, tmp_path: Path) -> None:
    done = ledger("migrate", env={"DATABASE_URL": pg_url}, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"events", "outbox", "inbox", "snapshots", "alembic_version"} <= tables
    assert ledger("migrate", env={"DATABASE_URL": pg_url}, tmp_path=tmp_path).returncode == 0, "idempotent"
