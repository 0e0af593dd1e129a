"""bench/throughput.py at a tiny size on the real broker and PostgreSQL: it completes and prints every
row (the figures themselves are not checked: a benchmark measures, it does not assert timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "raw aiokafka passthrough",
    "raw PostgreSQL inserts",
    "ledger alone",
    "delinquency alone",
    "outreach alone",
    "legal alone",
    "ledger + delinquency",
    "all four end to end",
)


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.slow
def test_throughput_bench_prints_every_row(postgres_server: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {**os.environ, "COLLECTIONS_PG_URL": postgres_server, "COLLECTIONS_KAFKA_BOOTSTRAP": kafka_bootstrap}
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/throughput.py"), "--events", "300", "--preload", "1000", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ROWS:
        assert row in done.stdout, (row, done.stdout)
    figures = json.loads(out.read_text())["figures"]
    assert [f["name"] for f in figures] == list(ROWS)
    assert all(f["events"] > 0 for f in figures)
