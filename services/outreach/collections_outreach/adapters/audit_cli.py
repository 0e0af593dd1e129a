"""`collections audit verify ACCOUNT`: recompute an account's contact trail chain (behaviour.md, Outreach).

The platform's CLI calls `verify(database_url, account_id)`; it prints the verdict and returns the
exit status: 0 when the chain holds, 1 when a record does not match (named by sequence and id).
"""

from __future__ import annotations

import asyncio
import sys

from collections_events.audit_chain import ChainVerdict
from collections_events.store.database import Database
from collections_outreach.app.trail_store import verify_trail


async def verify_async(database_url: str, account_id: str) -> ChainVerdict:
    """The verdict on `account_id`'s chain in outreach's database at `database_url`."""
    db = Database(database_url)
    try:
        async with db.sessions() as session:
            return await verify_trail(session, account_id)
    finally:
        await db.close()


def describe(account_id: str, verdict: ChainVerdict) -> str:
    """One line for people: the verdict and, on a mismatch, the first record that does not match."""
    if verdict.ok:
        return f"ok: account {account_id}: {verdict.records} records, chain verified"
    return (
        f"MISMATCH: account {account_id}: record sequence {verdict.first_bad_sequence} "
        f"(record_id {verdict.first_bad_record_id}): {verdict.reason}"
    )


def verify(database_url: str, account_id: str) -> int:
    """Verify `account_id`'s trail, print the verdict; returns 0 (ok), 1 (mismatch), 3 (no trail).

    An account with no record at all is not "verified": it is reported as unknown, so a typo or the
    wrong database never shows green. Must be called outside a running event loop (it runs its own).
    """
    verdict = asyncio.run(verify_async(database_url, account_id))
    if verdict.ok and verdict.records == 0:
        print(f"no trail: account {account_id} has no contact record in this database", file=sys.stderr)
        return 3
    print(describe(account_id, verdict))
    return 0 if verdict.ok else 1
