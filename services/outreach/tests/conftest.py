"""Outreach's test harness: the real handler on the embedded platform over SQLite (or PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from collections_events.config import PlatformConfig, parse_config
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event, read_structured
from collections_outreach.adapters.spec import SPEC

DEFAULT_CONTACTS = {
    "phones": [{"number": "+8613800000001", "kind": "mobile"}, {"number": "+8610000000002", "kind": "home"}],
    "emails": ["wei@example.com"],
    "postal_address": "1 Road, Shanghai",
}
ALL_CONSENTS = {"sms": True, "email": True, "push": True, "autodialed_calls": True}


class Harness:
    """Feeds events to outreach (alone on an embedded log) and collects what it publishes."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.published: list[Envelope] = []
        self.platform = EmbeddedPlatform([runtime], self.published.append)
        self._ids = itertools.count(1)

    def event(
        self, type_name: str, data: dict[str, Any], *, time: str = "2026-01-01T00:00:00Z", event_id: str | None = None
    ) -> Event:
        """A valid event of `type_name` (raises AssertionError when the data is invalid)."""
        subject = "clock" if type_name == "day.closed" else data["account_id"]
        envelope = Envelope(
            id=event_id or f"evt-{next(self._ids)}",
            source="test",
            type=type_name,
            subject=subject,
            time=time,
            data=data,
        )
        parsed = read_structured(envelope.to_structured())
        assert isinstance(parsed, Event), parsed
        return parsed

    async def feed(self, type_name: str, data: dict[str, Any], **kw: Any) -> list[Envelope]:
        """Feed one event, drain; returns what outreach published because of it."""
        before = len(self.published)
        self.platform.feed(EVENT_TYPES[type_name].topic, self.event(type_name, data, **kw))
        await self.platform.drain()
        return self.published[before:]

    async def opened(
        self,
        account: str,
        tz: str = "Asia/Shanghai",
        contacts: dict[str, Any] | None = None,
        consents: dict[str, bool] | None = None,
    ) -> list[Envelope]:
        return await self.feed(
            "account.opened",
            {
                "account_id": account,
                "customer_id": f"cust-{account}",
                "product": "credit_card",
                "currency": "CNY",
                "opened_on": "2025-01-01",
                "timezone": tz,
                "locale": "zh-CN",
                "contacts": DEFAULT_CONTACTS if contacts is None else contacts,
                "consents": ALL_CONSENTS if consents is None else consents,
            },
        )

    async def delinquent(
        self, account: str, as_of: date, since: date | None, to_bucket: str = "1-29"
    ) -> list[Envelope]:
        return await self.feed(
            "delinquency.bucket_changed",
            {
                "account_id": account,
                "as_of": as_of.isoformat(),
                "dpd": (as_of - since).days if since else 0,
                "delinquent_since": since.isoformat() if since else None,
                "from_bucket": "current" if since else "1-29",
                "to_bucket": to_bucket if since else "current",
                "past_due_minor": 1000 if since else 0,
            },
        )

    async def close(self, day: date) -> list[Envelope]:
        return await self.feed("day.closed", {"as_of": day.isoformat()}, time=f"{day.isoformat()}T16:00:00Z")

    async def close_range(self, first: date, last: date) -> list[Envelope]:
        out: list[Envelope] = []
        day = first
        while day <= last:
            out += await self.close(day)
            day += timedelta(days=1)
        return out

    async def result(self, account: str, outcome: str, occurred_at: str, **extra: Any) -> list[Envelope]:
        data = {
            "account_id": account,
            "attempt_id": None,
            "channel": "call",
            "outcome": outcome,
            "occurred_at": occurred_at,
        }
        return await self.feed("contact.result_reported", {**data, **extra}, time=occurred_at)

    async def payment(self, account: str, payment_id: str, amount: int, received_on: date) -> list[Envelope]:
        return await self.feed(
            "payment.received",
            {
                "account_id": account,
                "payment_id": payment_id,
                "amount_minor": amount,
                "received_on": received_on.isoformat(),
            },
        )

    async def reversal(self, account: str, payment_id: str) -> list[Envelope]:
        return await self.feed("payment.reversed", {"account_id": account, "payment_id": payment_id, "reason": "nsf"})

    async def due(self, account: str, due_id: str, due_date: date, statement: int) -> list[Envelope]:
        return await self.feed(
            "payment.due",
            {
                "account_id": account,
                "due_id": due_id,
                "due_date": due_date.isoformat(),
                "amount_due_minor": statement // 10,
                "statement_balance_minor": statement,
            },
        )


def of_type(envelopes: list[Envelope], type_name: str) -> list[dict[str, Any]]:
    """The data of the envelopes of `type_name`."""
    return [e.data for e in envelopes if e.type == type_name]


async def make_harness(url: str, config: PlatformConfig | None = None) -> Harness:
    runtime = ServiceRuntime(SPEC, Database(url), config or PlatformConfig())
    await runtime.start()
    return Harness(runtime)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'outreach.sqlite3'}"


@pytest.fixture
async def outreach(sqlite_url: str) -> AsyncIterator[Harness]:
    harness = await make_harness(sqlite_url)
    try:
        yield harness
    finally:
        await harness.runtime.db.close()


@pytest.fixture
def config_with() -> Any:
    return lambda raw: parse_config(raw)
