"""The contact trail is append-only in the database itself, and verify names the first edited record.

Runs on SQLite and on the real PostgreSQL (marked `postgres`); nothing is mocked.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from collections_events.store.database import Database
from collections_outreach.adapters.audit_cli import verify
from collections_outreach.app.tables import SERVICE_ROLE
from collections_outreach.app.trail_store import read_trail, verify_trail

from .conftest import Harness, make_harness, of_type

D0 = date(2026, 1, 10)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return sqlite_url


async def trail_of_five(h: Harness) -> list[dict[str, Any]]:
    await h.opened("A")
    await h.delinquent("A", D0 + timedelta(days=1), D0)
    out = await h.close(D0 + timedelta(days=1))
    out += await h.result("A", "delivered", "2026-01-12T01:00:00Z", channel="sms")
    out += await h.result("A", "no_answer", "2026-01-12T02:00:00Z", channel="call")
    out += await h.close_range(D0 + timedelta(days=2), D0 + timedelta(days=5))
    records = of_type(out, "outreach.contact_recorded")
    assert [r["sequence"] for r in records] == [1, 2, 3, 4, 5]
    return records


@pytest.mark.parametrize("url", BACKENDS, indirect=True)
async def test_update_and_delete_are_refused(url: str) -> None:
    h = await make_harness(url)
    try:
        published = await trail_of_five(h)
        async with h.runtime.db.sessions() as session:
            assert await read_trail(session, "A") == published  # the table holds what was published
        for statement in (
            "UPDATE contact_trail SET outcome = 'answered_rpc' WHERE sequence = 2",
            "DELETE FROM contact_trail WHERE sequence = 5",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with h.runtime.db.transaction() as session:
                    await session.execute(text(statement))
        async with h.runtime.db.sessions() as session:
            assert (await verify_trail(session, "A")).ok
    finally:
        await h.runtime.db.close()


@pytest.mark.parametrize("url", BACKENDS, indirect=True)
async def test_verify_names_the_record_edited_with_the_guard_off(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    h = await make_harness(url)
    try:
        records = await trail_of_five(h)
        assert await asyncio.to_thread(verify, url, "A") == 0
        assert "ok: account A: 5 records" in capsys.readouterr().out
        # An administrator switches the guard off and edits record 3.
        async with h.runtime.db.transaction() as session:
            if h.runtime.db.is_sqlite:
                await session.execute(text("DROP TRIGGER contact_trail_no_update"))
            else:
                await session.execute(text("ALTER TABLE contact_trail DISABLE TRIGGER contact_trail_no_update_delete"))
            await session.execute(text("UPDATE contact_trail SET outcome = 'answered_rpc' WHERE sequence = 3"))
        async with h.runtime.db.sessions() as session:
            verdict = await verify_trail(session, "A")
        assert not verdict.ok
        assert verdict.first_bad_sequence == 3 and verdict.first_bad_record_id == records[2]["record_id"]
        assert await asyncio.to_thread(verify, url, "A") == 1
        printed = capsys.readouterr().out
        assert "MISMATCH" in printed and "sequence 3" in printed and records[2]["record_id"] in printed
    finally:
        await h.runtime.db.close()


@pytest.mark.postgres
async def test_service_role_has_no_update_or_delete_grant(pg_url: str) -> None:
    admin = await make_harness(pg_url)  # migrations as the administrator create the role and grants
    await admin.runtime.db.close()
    role_url = pg_url.replace("://postgres@", f"://{SERVICE_ROLE}@")
    h = await make_harness(role_url)  # the service itself runs as the role
    try:
        await trail_of_five(h)
        # Even with the trigger gone, the role may not edit or delete the trail.
        admin_db = Database(pg_url)
        async with admin_db.transaction() as session:
            await session.execute(text("ALTER TABLE contact_trail DISABLE TRIGGER USER"))
        await admin_db.close()
        for statement in (
            "UPDATE contact_trail SET outcome = 'answered_rpc' WHERE sequence = 2",
            "DELETE FROM contact_trail WHERE sequence = 5",
            "TRUNCATE contact_trail",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with h.runtime.db.transaction() as session:
                    await session.execute(text(statement))
        async with h.runtime.db.sessions() as session:
            assert (await verify_trail(session, "A")).ok
    finally:
        await h.runtime.db.close()
