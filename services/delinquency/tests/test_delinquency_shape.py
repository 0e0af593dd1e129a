"""Delinquency in the one service shape (issue 18, decision 0008): the subscription follows from
HANDLERS and is what it was; on PostgreSQL a batch costs the same statements whatever its size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from collections_delinquency.adapters.spec import SPEC
from collections_delinquency.app.handlers import HANDLERS
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.handlers import types_of
from collections_events.runtime.runtime import Delivery
from collections_events.testing import make_event


def test_the_subscription_is_the_handler_tables_and_what_it_was() -> None:
    assert types_of(HANDLERS) == {
        "ledger": frozenset({"ledger.balance_changed"}),
        "clock": frozenset({"day.closed"}),
    }
    wanted = {(entry.topic, name) for name, entry in EVENT_TYPES.items() if SPEC.wants(entry.topic, name)}
    assert wanted == {("ledger", "ledger.balance_changed"), ("clock", "day.closed")}


def _balance(account: str, n: int, unpaid: int) -> Delivery:
    data = {
        "account_id": account,
        "unpaid_dues": [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": unpaid}] if unpaid else [],
        "credit_minor": 0,
        "cause_id": f"cause-{account}-{n}",
    }
    return Delivery("ledger", make_event("ledger.balance_changed", data, event_id=f"{account}-{n}"), position=f"{n}")


@pytest.mark.postgres
async def test_statements_per_batch_do_not_grow_with_its_events(
    make_rig: Callable[..., Any], create_pg_database: Callable[[str], str]
) -> None:
    """Decision 0007: the clock and the batch's accounts are read once, each table written once."""
    rig = await make_rig(urls=(create_pg_database("ledger"), create_pg_database("delinquency")))
    runtime = rig.delinquency
    counted: list[str] = []
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", lambda *a: counted.append(a[2]))
    close = make_event("day.closed", {"as_of": "2024-01-11"}, event_id="close-11")
    await runtime.process([Delivery("clock", close, position="close")])

    async def batch(accounts: int, tag: str) -> int:
        # accounts known already, each changed twice in the batch (updates), the second a bucket change
        await runtime.process([_balance(f"{tag}-{a}", 0, 0) for a in range(accounts)])
        deliveries = [_balance(f"{tag}-{a}", n, unpaid) for n, unpaid in ((1, 0), (2, 500)) for a in range(accounts)]
        counted.clear()
        await runtime.process(deliveries)
        return len(counted)

    await batch(2, "warm")
    small, large = await batch(3, "s"), await batch(80, "l")
    assert 0 < small == large, counted
