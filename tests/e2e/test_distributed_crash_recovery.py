"""Services killed with SIGKILL mid-run and started again: the platform still publishes replay's events.

Each service is its own OS process on real Kafka and PostgreSQL. A generated portfolio (12
accounts, 30 business days) is published in file order, settling at day closes and topic changes as
in test_distributed_replay_equivalence. Twice in the run a service dies without any clean-up:
- outreach kills itself (SIGKILL, the process runner's test hook) right after the database commit
  of the batch holding one day close and before its Kafka offset commit: the close is redelivered
  to the new process, and its inbox turns the redelivery into no change;
- delinquency is SIGKILLed from outside while a day close is in flight (published, not settled):
  whatever it had committed stays, whatever it had not is redone from the last committed offset.
Each is started again on the same database, and the run goes on.

What "none duplicated, none missing" means here (decision 0003): the relay publishes an outbox
row and then marks it sent, so a kill between the two publishes that row again after the restart.
The final outbound events are therefore compared by id: the set of distinct published events
equals replay's, id for id and field for field. A message that appears more than once on the wire
must be a byte-identical republish (same key, value and headers), which every consumer's inbox
absorbs by event id; no two different messages share an id.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collections_events.config import parse_config
from collections_events.runtime.process import CRASH_HOOK_ENV
from collections_platform.distributed import comparable, publish_file, read_published, read_wire, settle_points
from collections_platform.replay import replay
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CONFIG = {"legal": {"referral_dpd": 20}, "delinquency": {"charge_off_dpd": 30}}
SETTINGS = PortfolioSettings(seed=18, accounts=12, days=30, start=date(2026, 1, 5))
OUTREACH_DIES_AT_CLOSE = 10  # the 10th day.closed
DELINQUENCY_KILLED_AT_CLOSE = 20


async def _until_exited(proc: Any, timeout: float = 120.0) -> int:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the process did not die at its crash point")
        await asyncio.sleep(0.05)
    return int(proc.returncode)


async def test_services_killed_mid_run_publish_replays_events_once(
    distributed_platform: Callable[..., Any], tmp_path: Path
) -> None:
    events = list(generate_events(SETTINGS))
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    await replay(source, tmp_path / "replay.jsonl", parse_config(CONFIG), None)
    expected = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text(encoding="utf-8").splitlines()]

    closes = [e["id"] for e in events if e["type"] == "day.closed"]
    crash_id, kill_id = closes[OUTREACH_DIES_AT_CLOSE - 1], closes[DELINQUENCY_KILLED_AT_CLOSE - 1]
    settle_after = settle_points(events)

    platform = distributed_platform(CONFIG)
    platform.spawn("ledger")
    platform.spawn("delinquency")
    platform.spawn("outreach", {CRASH_HOOK_ENV: crash_id})
    platform.spawn("legal")
    await asyncio.gather(*(platform.ready(name) for name in platform.specs))
    deaths: dict[str, int] = {}
    position = iter(range(len(events)))
    began = time.monotonic()
    async with platform.settler() as settler:
        await platform.settle(settler)

        async def wait(line: dict[str, Any] | None) -> None:
            index = next(position)
            assert line is not None and line["id"] == events[index]["id"]
            if line["id"] == crash_id:
                deaths["outreach"] = await _until_exited(platform.procs["outreach"])
                await platform.restart("outreach")
            elif line["id"] == kill_id:
                deaths["delinquency"] = platform.kill("delinquency")
                await platform.restart("delinquency")
            if settle_after[index]:
                await platform.settle(settler)

        await publish_file(platform.bootstrap, source, platform.config, wait)
        await platform.settle(settler)
    print(f"fed with two crashes in {time.monotonic() - began:.1f}s")
    assert deaths == {"outreach": -signal.SIGKILL, "delinquency": -signal.SIGKILL}

    records = await read_published(platform.bootstrap, platform.config)
    wire = read_wire(records)
    published = wire.published
    assert wire.unreadable == [] and wire.different_copies == [], (wire.unreadable, wire.different_copies)
    print(f"{wire.messages} messages on the wire, {len(published)} distinct events, {wire.republished} republished")

    assert len({e["id"] for e in expected}) == len(expected)
    assert {comparable(e) for e in published.values()} == {comparable(e) for e in expected}
    types = {e["type"] for e in expected}
    assert {"delinquency.bucket_changed", "outreach.contact_requested", "legal.case_opened"} <= types
