"""The distributed platform decides what replay decides for a placement-to-recall story (issue 16).

Each service its own OS process on the session's Kafka and PostgreSQL (tests/e2e/conftest.py). The
input is tests/e2e/agency_story.py: five accounts placed with two agencies at 20 dpd, recalled for
each reason (dispute, cured after a reversed and a good payment, expired), an agency breaking the
window, the cooldown and the cap, another calling an account it does not hold. It is published in
file order, waiting after every line until every consumer group has caught up and every outbox is
empty (replay's own rule, behaviour.md, Time and order), and the published events are compared with
replay's output as a set: id, type, source, subject, time and data all equal.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collections_events.testing import decode_events, import_file
from collections_platform.distributed import comparable, publish_file, read_published
from collections_platform.replay import replay

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
story = import_file(Path(__file__).parent / "agency_story.py", "agency_story_e2e")


async def test_distributed_placement_to_recall_is_replays(
    distributed_platform: Callable[..., Any], tmp_path: Path
) -> None:
    source = story.write_story(tmp_path / "story.jsonl")
    platform = distributed_platform(story.CONFIG)
    await replay(source, tmp_path / "replay.jsonl", platform.config, None)
    expected = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text(encoding="utf-8").splitlines()]
    types = Counter(e["type"] for e in expected)
    assert types["legal.account_placed"] == 5 and types["legal.placement_recalled"] == 5
    assert types["outreach.conduct_breach"] == 3
    reasons = {e["data"]["reason"] for e in expected if e["type"] == "legal.placement_recalled"}
    assert reasons == {"dispute", "cured", "expired"}

    await platform.start()
    async with platform.settler() as settler:
        await platform.settle(settler)

        async def wait(_line: dict[str, Any] | None) -> None:
            await platform.settle(settler)

        await publish_file(platform.bootstrap, source, platform.config, wait)
    actual = [
        e.envelope.to_structured() for e in decode_events(await read_published(platform.bootstrap, platform.config))
    ]
    assert len(actual) == len(expected), "no event duplicated or missing on the wire"
    assert {comparable(e) for e in actual} == {comparable(e) for e in expected}
    placed = sorted(e["data"]["placement_id"] for e in actual if e["type"] == "legal.account_placed")
    assert placed == sorted(e["data"]["placement_id"] for e in expected if e["type"] == "legal.account_placed")
