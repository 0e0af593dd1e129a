"""The embedded default records no Prometheus metrics (ServiceRuntime.record_metrics=False): its four
services share one process nobody scrapes, and the handlers' own gauges must not leak stale figures
into it either (README, "Every service also serves ... /metrics")."""

from __future__ import annotations

import json
from pathlib import Path

from collections_events.config import PlatformConfig
from collections_events.metrics import get_metrics, setup_metrics
from collections_platform.replay import replay
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

RECORDED_BY_HANDLERS = ("collections_accounts_in_bucket", "collections_call_cap_usage")
RECORDED_BY_RUNTIME = ("messaging_process_duration", "messaging_client_consumed_messages")


async def test_a_replay_records_no_metrics(tmp_path: Path) -> None:
    setup_metrics("embedded-test")  # a fresh set, so nothing recorded by other tests shows here
    source = tmp_path / "in.jsonl"
    events = generate_events(PortfolioSettings(seed=3, accounts=20, days=40))
    source.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    published = await replay(source, tmp_path / "out.jsonl", PlatformConfig(), None)
    assert published > 0
    samples = [line for line in get_metrics().exposition().decode().splitlines() if line and not line.startswith("#")]
    recorded = [s for s in samples if s.startswith(RECORDED_BY_HANDLERS + RECORDED_BY_RUNTIME)]
    assert recorded == []
