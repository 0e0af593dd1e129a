"""`collections explain ACCOUNT --as-of D [--state DIR | --database-url URL] [--config FILE]`
(contract.md, Analysis commands): outreach's explanation as one JSON object on stdout.

Exit 0; 3 when the account is unknown to outreach; 2 for a date that did not close, no database, or
a bad config. The config must be the run's (the arm and its strategy come from it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from collections_events.config import PlatformConfig
from collections_events.store.database import Database
from collections_platform.embedded import sqlite_url


def explain_command(
    account_id: str, as_of: date, state_dir: Path, database_url: str | None, config: PlatformConfig
) -> int:
    """Print the explanation; returns the exit status."""
    from collections_events.telemetry import setup_logging

    setup_logging("WARNING")  # stdout holds the JSON only
    if database_url is None:
        if not (state_dir / "outreach.sqlite3").is_file():
            print(
                f"collections explain: no outreach database in {state_dir} (pass --state or --database-url)",
                file=sys.stderr,
            )
            return 2
        database_url = sqlite_url(state_dir, "outreach")
    try:
        return asyncio.run(_explain(account_id, as_of, database_url, config))
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"collections explain: cannot read the outreach database: {reason}", file=sys.stderr)
        return 2


async def _explain(account_id: str, as_of: date, url: str, config: PlatformConfig) -> int:
    from collections_events.runtime.runtime import ServiceRuntime
    from collections_outreach.adapters.explain_api import explain_account
    from collections_outreach.adapters.spec import SPEC
    from collections_outreach.app.explain import NotClosed

    db = Database(url)
    try:
        runtime = ServiceRuntime(SPEC, db, config, record_metrics=False)
        async with db.transaction() as session:
            try:
                found = await explain_account(session, runtime, account_id, as_of)
            except NotClosed as exc:
                print(f"collections explain: {exc}", file=sys.stderr)
                return 2
    finally:
        await db.close()
    if found is None:
        print(f"collections explain: account {account_id} is unknown to outreach", file=sys.stderr)
        return 3
    print(json.dumps(found, ensure_ascii=False))
    return 0
