"""The ledger in the one service shape (issue 18, decision 0008): its subscription follows from
HANDLERS and is what it was; the one 404; the repository's fallback fold; statements per batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, text

from collections_events.registry import EVENT_TYPES, TOPIC_KEYS
from collections_events.runtime.handlers import types_of
from collections_events.runtime.runtime import Delivery
from collections_events.runtime.service import ServiceSpec, Subscription
from collections_ledger.adapters.spec import SPEC
from collections_ledger.app.handlers import HANDLERS

from .test_ledger_service import A, due, pay

BEFORE = (  # the subscription as spec.py listed it before HANDLERS (billing and payments: every type)
    Subscription("accounts", frozenset({"account.opened"})),
    Subscription("billing"),
    Subscription("payments"),
    Subscription("outreach", frozenset({"outreach.arrangement_completed"})),
)


def test_the_subscription_is_the_handler_tables_and_wants_what_it_did() -> None:
    assert types_of(HANDLERS) == {
        "accounts": frozenset({"account.opened"}),
        "billing": frozenset({"payment.due"}),
        "payments": frozenset({"payment.received", "payment.reversed"}),
        "outreach": frozenset({"outreach.arrangement_completed"}),
    }
    before = ServiceSpec(name="before", metadata=SPEC.metadata, tables=SPEC.tables, migrations=SPEC.migrations,
                         subscriptions=BEFORE, handle=SPEC.handle)  # fmt: skip
    # an event arrives only on its own topic (a wrong topic is refused at decoding): same wants there
    for name, entry in EVENT_TYPES.items():
        assert SPEC.wants(entry.topic, name) == before.wants(entry.topic, name), name
    assert SPEC.topics == before.topics and set(SPEC.topics) <= set(TOPIC_KEYS)


async def test_unknown_account_is_the_one_404(ledger: Any) -> None:
    async with ledger.client() as client:
        for path in ("/accounts/nobody", "/accounts/nobody/events"):
            answer = await client.get(path)
            assert answer.status_code == 404 and answer.json() == {"detail": "unknown account nobody"}
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Collections Ledger"


async def test_an_account_without_a_snapshot_is_folded_from_its_stream(ledger: Any) -> None:
    await ledger.feed("payment.due", due("d1", "2024-01-10", 1000))
    await ledger.feed("payment.received", pay("p1", 400))
    async with ledger.runtime.db.transaction() as session:  # as a database from before snapshots
        await session.execute(text("DELETE FROM snapshots WHERE stream_id = :s"), {"s": A})
    out = await ledger.feed("payment.received", pay("p2", 100))
    assert out[0].data["unpaid_dues"] == [{"due_id": "d1", "due_date": "2024-01-10", "unpaid_minor": 500}]
    async with ledger.runtime.db.transaction() as session:
        kept = await session.scalar(text("SELECT state FROM snapshots WHERE stream_id = :s"), {"s": A})
    assert kept is not None and '"p2"' in kept


@pytest.mark.postgres
async def test_statements_per_batch_do_not_grow_with_its_events(make_ledger: Callable[..., Any], pg_url: str) -> None:
    """Decision 0007: a batch's reads are one round trip each and each table is written once."""
    rig = await make_ledger(url=pg_url)
    counted: list[str] = []
    event.listen(rig.runtime.db.engine.sync_engine, "before_cursor_execute", lambda *a: counted.append(a[2]))

    async def batch(accounts: int, tag: str) -> int:
        deliveries = []
        for n in range(accounts):
            account = f"{tag}-{n}"
            for type_name, data in (
                ("payment.due", due("d1", "2024-01-10", 1000, account)),
                ("payment.received", pay("p1", 400, account=account)),
            ):
                topic = EVENT_TYPES[type_name].topic
                deliveries.append(Delivery(topic, rig.event(type_name, data), position=f"{tag}{len(deliveries)}"))
        counted.clear()
        await rig.runtime.process(deliveries)
        return len(counted)

    await batch(2, "warm")  # first statements of the process (prepared plans, sequences)
    small, large = await batch(3, "s"), await batch(60, "l")
    assert 0 < small == large, counted
