"""Outreach on Kafka fed by the delinquency service (issue 4), and a plan agreed through the agents'
API that suppresses calls and is completed by payments published to the payments topic (issue 9).

Each service is its own OS process on real Kafka and PostgreSQL. One account (Asia/Shanghai) misses
a due of 2026-01-12: delinquency's `bucket_changed` (1 dpd at the close of 13 January) starts the
episode in outreach, which calls at the closes of 13 and 14 January. On 15 January an agent agrees a
plan of two installments through `POST /accounts/{id}/arrangements` on outreach's HTTP port (201).
The closes of 15, 16 and 19 January then suppress the call step with `arrangement_active`; two
payments published on the payments topic meet the installments and complete the plan at once
(`outreach.arrangement_completed`), and the account is cured (`bucket_changed` to `current`).
Every event is published in file order and settled (consumer lag 0, outboxes empty) before the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from collections_events.registry import EVENT_TYPES
from collections_events.testing import account_opened_data, make_envelope, produce
from collections_events.transport.kafka import decode_record
from collections_events.validation import Event
from collections_platform.distributed import read_published

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CONFIG = {
    "outreach": {
        "strategy": [{"id": "calls", "channel": "call", "template": "collection_call", "from_dpd": 1, "every_days": 1}]
    }
}
PLAN = {
    "kind": "plan",
    "installments": [{"due_on": "2026-01-20", "amount_minor": 15000}, {"due_on": "2026-02-03", "amount_minor": 15000}],
    "occurred_at": "2026-01-15T02:00:00Z",  # 10:00 in Shanghai: made on 15 January
}


def _opened() -> dict[str, Any]:
    return account_opened_data(
        "P1",
        opened_on="2025-10-01",
        contacts={"phones": [{"number": "+8613900000001", "kind": "mobile"}], "emails": []},
    )


def _close(day: str) -> Any:
    return make_envelope("day.closed", {"as_of": day}, event_id=f"arr-close-{day}", time=f"{day}T16:00:00Z")


def _payment(n: int, day: str) -> Any:
    data = {"account_id": "P1", "payment_id": f"P1-pay-{n}", "amount_minor": 15000, "received_on": day}
    return make_envelope("payment.received", data, event_id=f"arr-pay-{n}", time=f"{day}T03:00:00Z")


async def test_plan_agreed_through_the_api_suppresses_calls_and_payments_complete_it(
    distributed_platform: Callable[..., Any],
) -> None:
    platform = distributed_platform(CONFIG)
    await platform.start()
    due = {
        "account_id": "P1",
        "due_id": "P1-D1",
        "due_date": "2026-01-12",
        "amount_due_minor": 30000,
        "statement_balance_minor": 30000,
    }
    before = [
        make_envelope("account.opened", _opened(), event_id="arr-open", time="2025-10-01T02:00:00Z"),
        make_envelope("payment.due", due, event_id="arr-due", time="2025-12-22T02:00:00Z"),
        _close("2026-01-12"),
        _close("2026-01-13"),
        _close("2026-01-14"),
    ]
    after = [
        _close("2026-01-15"),
        _close("2026-01-16"),
        _payment(1, "2026-01-19"),
        _close("2026-01-19"),
        _payment(2, "2026-01-20"),
        _close("2026-01-20"),
    ]
    outreach_api = f"http://127.0.0.1:{platform.ports['outreach']}"
    async with platform.settler() as settler, httpx.AsyncClient(base_url=outreach_api, timeout=30) as http:

        async def publish(envelopes: list[Any]) -> None:
            for envelope in envelopes:
                topic = platform.config.topics.name(EVENT_TYPES[envelope.type].topic)
                await produce(platform.bootstrap, topic, [envelope])
                await platform.settle(settler)

        await publish(before)
        made = await http.post("/accounts/P1/arrangements", json=PLAN)
        assert made.status_code == 201, made.text
        arrangement = made.json()["arrangement"]
        assert arrangement["made_on"] == "2026-01-15" and arrangement["total_minor"] == 30000
        await platform.settle(settler)
        await publish(after)
        shown = (await http.get("/accounts/P1/arrangements")).json()

    out = []
    for record in await read_published(platform.bootstrap, platform.config):
        parsed = decode_record(record)
        assert isinstance(parsed, Event)
        out.append((parsed.type, parsed.envelope.data))

    # Outreach was fed by delinquency: its episode began with delinquency's bucket change.
    buckets = [(d["as_of"], d["to_bucket"]) for t, d in out if t == "delinquency.bucket_changed"]
    # The second payment cures the account at once, as of the last closed date (behaviour.md).
    assert buckets == [("2026-01-13", "1-29"), ("2026-01-19", "current")]
    requests = [d["as_of"] for t, d in out if t == "outreach.contact_requested"]
    assert requests == ["2026-01-13", "2026-01-14"]

    # While the plan runs, every call is suppressed; nothing is requested.
    suppressed = [(d["as_of"], d["reason"]) for t, d in out if t == "outreach.contact_suppressed"]
    assert suppressed == [(day, "arrangement_active") for day in ("2026-01-15", "2026-01-16", "2026-01-19")]

    # The payments on the payments topic completed it at once.
    [completed] = [d for t, d in out if t == "outreach.arrangement_completed"]
    assert completed["arrangement_id"] == arrangement["arrangement_id"] and completed["paid_minor"] == 30000
    [listed] = shown["arrangements"]
    assert [i["status"] for i in listed["installments"]] == ["met", "met"], listed
