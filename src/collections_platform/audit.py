"""`collections audit verify ACCOUNT [--state DIR | --database-url URL]` (behaviour.md, Outreach).

Delegates to outreach's own verifier, `collections_outreach.adapters.audit_cli.verify(database_url,
account_id) -> int` (exit status); the platform only finds the database.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from collections_outreach.adapters.audit_cli import verify
from collections_platform.embedded import sqlite_url


def verify_command(account_id: str, state_dir: Path, database_url: str | None) -> int:
    """Verify `account_id`'s contact trail (exit status of outreach's verifier; 2: no database)."""
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
    return status
