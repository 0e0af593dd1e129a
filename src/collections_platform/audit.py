"""`collections audit verify ACCOUNT [--state DIR | --database-url URL]` (behaviour.md, Outreach).

Delegates to outreach's own verifier, `collections_outreach.adapters.audit_cli.verify(database_url,
account_id) -> int` (exit status); the platform only finds the database.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from collections_platform.embedded import sqlite_url


def verify_command(account_id: str, state_dir: Path, database_url: str | None) -> int:
    """Verify `account_id`'s contact trail; 2 when outreach (or its verifier) is not installed."""
    try:
        module = importlib.import_module("collections_outreach.adapters.audit_cli")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("collections_outreach"):
            print(
                "collections audit verify: the outreach service's verifier "
                "(collections_outreach.adapters.audit_cli) is not installed",
                file=sys.stderr,
            )
            return 2
        raise
    verify = getattr(module, "verify", None)
    if verify is None:
        print("collections audit verify: collections_outreach.adapters.audit_cli has no verify()", file=sys.stderr)
        return 2
    if database_url is None:
        database = state_dir / "outreach.sqlite3"
        if not database.is_file():
            print(
                f"collections audit verify: no outreach database at {database} (run `collections run` first, "
                "or pass --state / --database-url)",
                file=sys.stderr,
            )
            return 2
        database_url = sqlite_url(state_dir, "outreach")
    try:
        status = verify(database_url, account_id)
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"collections audit verify: cannot read the outreach database: {reason}", file=sys.stderr)
        return 2
    if inspect.isawaitable(status):
        status = asyncio.run(_await(status))
    return int(status)


async def _await(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]
