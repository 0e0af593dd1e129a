"""Legal escalation end to end on real Kafka and PostgreSQL, all four services (issue 5).

An account that never pays goes from its first due to an open case; outreach stops calling it
(`legal_hold`); a payment cures it, the case closes and the hold lifts (the next episode is called
again). The input is published in file order, waiting before each `day.closed` until every service
has caught up and every outbox is empty, so legal's events equal the embedded replay's, ids included
(behaviour.md, Time and order). The evidence bundle is read from legal's API on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from collections_events.config import parse_config
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.store.database import Database
from collections_events.store.uow import encode_envelope
from collections_events.testing import (
    account_opened_data,
    consume_all,
    decode_events,
    make_envelope,
    produce,
    running_service,
    unique_topics_config,
)
from collections_platform.replay import replay
from collections_platform.services import available_specs

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FIRST_DUE = date(2026, 1, 10)
OPENED_ON = FIRST_DUE + timedelta(days=10)  # referral_dpd 10 below, to keep the run short
CONFIG = {
    "legal": {"referral_dpd": 10, "min_contact_attempts": 3},
    "outreach": {"strategy": [{"id": "calls", "channel": "call", "template": "t", "from_dpd": 1, "every_days": 1}]},
}


def _inputs() -> list[Envelope]:
    """The run, in file order: opened, a due never paid, closes to the case and past it, a payment
    that cures, a second due left unpaid, closes until outreach calls again."""
    n = 0

    def make(type_name: str, data: dict[str, Any], time_: str = "2026-01-05T12:00:00Z") -> Envelope:
        nonlocal n
        n += 1
        return make_envelope(type_name, data, event_id=f"e2e-legal-{n:03d}", time=time_)

    def close(day: date) -> Envelope:
        return make("day.closed", {"as_of": day.isoformat()}, f"{day.isoformat()}T16:00:00Z")

    opened = account_opened_data("A1")
    first_due = {"due_id": "D1", "due_date": FIRST_DUE.isoformat(), "amount_due_minor": 5000}
    events = [make("account.opened", opened)]
    events.append(make("payment.due", {"account_id": "A1", **first_due, "statement_balance_minor": 50000}))
    events += [close(FIRST_DUE + timedelta(days=i)) for i in range(14)]  # 10 Jan .. 23 Jan
    pay = {"account_id": "A1", "payment_id": "P1", "amount_minor": 5000, "received_on": "2026-01-24"}
    events.append(make("payment.received", pay))
    second_due = {"due_id": "D2", "due_date": "2026-01-26", "amount_due_minor": 700}
    events.append(make("payment.due", {"account_id": "A1", **second_due, "statement_balance_minor": 700}))
    events += [close(FIRST_DUE + timedelta(days=i)) for i in range(14, 19)]  # 24 Jan .. 28 Jan
    return events


class Quiet:
    """Waits until every service that consumes an event has handled it and nothing is left moving:
    every outbox empty and every inbox unchanged for a few polls (what replay does after each event)."""

    def __init__(self, urls: dict[str, str], specs: dict[str, Any]) -> None:
        self.dbs = {name: Database(url) for name, url in urls.items()}
        self.specs = specs

    async def _poll(self, last: Envelope | None) -> tuple[bool, tuple[int, ...]]:
        done, counts = True, []
        for name, db in self.dbs.items():
            async with db.transaction() as s:
                unsent = await s.scalar(text("SELECT count(*) FROM outbox WHERE NOT sent"))
                handled = await s.scalar(text("SELECT count(*) FROM inbox"))
                if last is not None and self.specs[name].wants(EVENT_TYPES[last.type].topic, last.type):
                    seen = await s.scalar(text("SELECT count(*) FROM inbox WHERE event_id = :e"), {"e": last.id})
                    done = done and seen == 1
            done = done and unsent == 0
            counts.append(int(handled or 0))
        return done, tuple(counts)

    async def settle(self, last: Envelope | None, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until `last` (the event published last) is handled everywhere and nothing moves."""
        deadline, previous, stable = time.monotonic() + timeout, None, 0
        while stable < 4:
            if time.monotonic() > deadline:
                raise TimeoutError(f"services did not settle after {last.id if last else 'start'}")
            done, counts = await self._poll(last)
            stable = stable + 1 if done and counts == previous else 0
            previous = counts
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for db in self.dbs.values():
            await db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_never_pays_referred_held_cured_closed_and_released(
    kafka_bootstrap: str, create_pg_database: Callable[[str], str], tmp_path: Path
) -> None:
    specs = {s.name: s for s in available_specs()}
    assert set(specs) == {"ledger", "delinquency", "outreach", "legal"}
    config = unique_topics_config(parse_config(CONFIG))
    urls = {name: create_pg_database(name) for name in specs}
    quiet = Quiet(urls, specs)
    port = _free_port()
    inputs = _inputs()
    kw = {"bootstrap_servers": kafka_bootstrap, "config": config}
    try:
        async with (
            running_service(specs["ledger"], database_url=urls["ledger"], **kw),
            running_service(specs["delinquency"], database_url=urls["delinquency"], **kw),
            running_service(specs["outreach"], database_url=urls["outreach"], **kw),
            running_service(specs["legal"], database_url=urls["legal"], api_port=port, **kw),
        ):
            previous: Envelope | None = None
            for envelope in inputs:
                if envelope.type == "day.closed":
                    await quiet.settle(previous)  # the rule: everything before a close has finished
                await produce(kafka_bootstrap, config.topics.name(EVENT_TYPES[envelope.type].topic), [envelope])
                previous = envelope
            await quiet.settle(previous)

            legal_out = decode_events(await consume_all(kafka_bootstrap, [config.topics.legal]))
            outreach_out = decode_events(await consume_all(kafka_bootstrap, [config.topics.outreach]))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                cases = (await http.get("/cases", params={"account_id": "A1"})).json()["items"]
                bundle = (await http.get(f"/cases/{cases[0]['case_id']}/evidence")).json()
    finally:
        await quiet.close()

    # The account was referred at the close where it reached referral_dpd, with the calls before it.
    [opened] = [e for e in legal_out if e.type == "legal.case_opened"]
    assert opened.envelope.data["as_of"] == OPENED_ON.isoformat() and opened.envelope.data["dpd"] == 10
    requests = [e.envelope.data for e in outreach_out if e.type == "outreach.contact_requested"]
    before = [r for r in requests if r["as_of"] < OPENED_ON.isoformat()]
    assert opened.envelope.data["contact_attempts"] == len(before) == 9

    # Outreach stopped calling: every evaluation after the case's as_of is held, until the cure.
    suppressed = [e.envelope.data for e in outreach_out if e.type == "outreach.contact_suppressed"]
    assert suppressed and {s["reason"] for s in suppressed} == {"legal_hold"}
    assert min(s["as_of"] for s in suppressed) == (OPENED_ON + timedelta(days=1)).isoformat()
    assert not [r for r in requests if OPENED_ON.isoformat() < r["as_of"] <= "2026-01-26"]

    # The payment cured it: the case closed as of the last close, and the hold lifted.
    [closed] = [e for e in legal_out if e.type == "legal.case_closed"]
    assert closed.envelope.data == {
        "case_id": opened.envelope.data["case_id"],
        "account_id": "A1",
        "as_of": "2026-01-23",
        "reason": "cured",
    }
    assert [r["as_of"] for r in requests if r["as_of"] > "2026-01-26"] == ["2026-01-27", "2026-01-28"]

    # The evidence bundle (PostgreSQL) holds the whole trail, its chain verified, and the closing.
    assert bundle["case"]["state"] == "closed" and bundle["case"]["close_reason"] == "cured"
    assert bundle["chain"]["ok"] is True
    assert bundle["chain"]["records"] == len(bundle["trail"]) >= len(before)
    assert [h["to_state"] for h in bundle["history"]] == ["referred", "closed"]

    # The distributed run decided what the embedded replay decides from the same input, ids included.
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(encode_envelope(e) + "\n" for e in inputs), encoding="utf-8")
    await replay(source, out, parse_config(CONFIG), None)
    replayed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = [(e["id"], e["type"], e["data"]) for e in replayed if e["type"].startswith("legal.")]
    assert [(e.id, e.type, e.envelope.data) for e in legal_out] == expected
