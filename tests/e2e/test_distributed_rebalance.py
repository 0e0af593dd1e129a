"""A second replica joining a consumer group mid-stream, then the first leaving: nothing lost, nothing
duplicated, the same events as replay (issue 14, "Effectively once").

Each service is its own OS process on real Kafka (3 partitions per topic) and PostgreSQL. While a
generated portfolio is published in file order (settled at closes and topic changes; the group
changes right after a close is published, so batches are in flight), a second ledger and a second
outreach join their groups on the same databases (a rebalance hands each some partitions), and
later the first ones stop with SIGTERM (a second rebalance hands everything to the newcomers).
What "nothing duplicated" means is as in test_distributed_crash_recovery: the distinct events equal
replay's, id for id and field for field, and a message on the wire twice is a byte-identical
republish that every inbox absorbs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from collections_events.config import parse_config
from collections_events.registry import EVENT_TYPES
from collections_events.testing import start_service_process
from collections_platform.distributed import comparable, publish_file, read_published, read_wire, settle_points
from collections_platform.replay import replay
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

CONFIG = {"legal": {"referral_dpd": 20}, "delinquency": {"charge_off_dpd": 30}}
SETTINGS = PortfolioSettings(seed=23, accounts=10, days=24, start=date(2026, 1, 5))
JOIN_AT_CLOSE, LEAVE_AT_CLOSE = 6, 14
REPLICATED = ("ledger", "outreach")


async def _ready(port: int, timeout: float = 90.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the replica on port {port} was not ready after {timeout}s")


async def test_a_replica_joining_then_the_first_leaving_publishes_replays_events_once(
    distributed_platform: Callable[..., Any], tmp_path: Path
) -> None:
    events = list(generate_events(SETTINGS))
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    await replay(source, tmp_path / "replay.jsonl", parse_config(CONFIG), None)
    expected = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text(encoding="utf-8").splitlines()]
    closes = [e["id"] for e in events if e["type"] == "day.closed"]
    join_id, leave_id = closes[JOIN_AT_CLOSE - 1], closes[LEAVE_AT_CLOSE - 1]
    # Settled at every close and every change of topic, as in test_distributed_replay_equivalence:
    # what gives exactly replay's events (behaviour.md, Time and order). The group changes right
    # after a close is published, before it settles, so batches are in flight.
    settle_after = settle_points(events)

    platform = distributed_platform(CONFIG)
    await platform.start()
    firsts = {name: platform.procs[name] for name in REPLICATED}
    left: dict[str, int] = {}
    position = iter(range(len(events)))
    began = time.monotonic()
    async with platform.settler() as settler:
        await platform.settle(settler)

        async def wait(line: dict[str, Any] | None) -> None:
            index = next(position)
            assert line is not None and line["id"] == events[index]["id"]
            if line["id"] == join_id:  # the close is on its way: the group changes under it
                for name in REPLICATED:
                    port = _free_port()
                    proc = start_service_process(name, {**platform.env(name), "PORT": str(port)})
                    platform.procs[f"{name}#2"] = proc
                    await _ready(port)
            elif line["id"] == leave_id:
                for name in REPLICATED:
                    firsts[name].terminate()
                for name in REPLICATED:
                    left[name] = await asyncio.to_thread(firsts[name].wait, 60)
            if settle_after[index]:
                await platform.settle(settler)

        await publish_file(platform.bootstrap, source, platform.config, wait)
        await platform.settle(settler)
    print(f"fed with two rebalances per replicated service in {time.monotonic() - began:.1f}s")
    assert left == {"ledger": 0, "outreach": 0}, "the first replicas stopped cleanly on SIGTERM"
    assert all(platform.procs[f"{name}#2"].poll() is None for name in REPLICATED), "the newcomers run on"

    records = await read_published(platform.bootstrap, platform.config)
    wire = read_wire(records)
    published = wire.published
    assert wire.unreadable == [] and wire.different_copies == [], (wire.unreadable, wire.different_copies)
    print(f"{wire.messages} messages on the wire, {len(published)} distinct events, {wire.republished} republished")
    got, want = {comparable(e) for e in published.values()}, {comparable(e) for e in expected}
    assert len(published) == len(expected), (len(published), len(expected), sorted(want - got)[:5])
    assert got == want
    assert {EVENT_TYPES[e["type"]].topic for e in expected} >= {"ledger", "delinquency", "outreach"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
