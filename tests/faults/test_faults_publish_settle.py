"""`collections publish --settle` with the platform's services down: a progress line while it waits,
then one line naming the consumer groups behind and exit 2 after `--settle-timeout`, not a hang.

Real Kafka and PostgreSQL; the command is a real subprocess; no service runs (every group is behind).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from collections_events.registry import TOPIC_KEYS
from collections_events.testing import unique_topics_config

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EVENT = {
    "specversion": "1.0",
    "id": "acc-open-settle-1",
    "source": "lender/accounts",
    "type": "account.opened",
    "subject": "ACC-S1",
    "time": "2026-01-05T09:00:00+08:00",
    "datacontenttype": "application/json",
}


def test_publish_settle_with_services_down_gives_up_naming_the_group(
    kafka_bootstrap: str, postgres_server: str, tmp_path: Path
) -> None:
    topics = unique_topics_config().topics
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"topics": {k: topics.name(k) for k in TOPIC_KEYS}}), encoding="utf-8")
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({**EVENT, "data": {"bad": True}}) + "\n", encoding="utf-8")
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "collections_platform.cli", "publish", "--bootstrap", kafka_bootstrap,
         "--config", str(config), "--settle", postgres_server, "--settle-timeout", "7", str(source)],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    took = time.monotonic() - began
    print(done.stderr)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("collections publish:")]
    assert any("waiting" in line and "collections-outreach" in line for line in lines), lines
    last = lines[-1]
    assert "not settled after 7s" in last and "collections-outreach (lag 1)" in last, last
    assert took < 60, f"gave up after {took:.0f}s"
