"""Benchmark: `collections replay` on a generated portfolio (the engine of every what-if and every
check against the spec; issue 14). Prints figures; it is not a test.

    uv run python bench/embedded/replay.py [--accounts 1100] [--days 180] [--repeat 1]

The input is generated once (collections_platform.simulation.portfolio, seed 7: 1,100 accounts x
180 business days is 18,401 lines). Each repeat replays it as a child process on fresh state and
prints wall time, CPU time (user + system, the child's rusage: less sensitive to other work on the
machine than wall time), peak memory (the child's ru_maxrss), inbound events per second, and the
load average before it started. The anchor in the same run: the same input read and validated
line by line with no service (what the platform costs beyond parsing its input).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collections_events.validation import read_json
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

ROOT = Path(__file__).resolve().parents[2]


def replay_once(source: Path, out: Path) -> dict[str, float]:
    """One `collections replay` child process; its wall and CPU seconds and peak MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "collections_platform.cli", "replay", str(source), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_mb": after.ru_maxrss / 1024,
    }


def parse_only(source: Path) -> float:
    """Seconds to read and validate every line with no service: the anchor."""
    started = time.perf_counter()
    with source.open("rb") as lines:
        for line in lines:
            read_json(line, inbound_only=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1100)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="collections-bench-replay-") as scratch:
        source, out = Path(scratch) / "input.jsonl", Path(scratch) / "output.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for event in generate_events(PortfolioSettings(seed=7, accounts=args.accounts, days=args.days)):
                handle.write(json.dumps(event) + "\n")
        lines = sum(1 for _ in source.open("rb"))
        anchor = parse_only(source)
        print(
            f"replay of {args.accounts} accounts x {args.days} business days: {lines:,} lines, {os.cpu_count()} cores; "
            f"anchor (read + validate only): {anchor:.1f} s, {lines / anchor:,.0f} lines/s"
        )
        for n in range(1, args.repeat + 1):
            load = os.getloadavg()[0]
            f = replay_once(source, out)
            published = sum(1 for _ in out.open("rb"))
            print(
                f"run {n}: wall {f['wall_s']:.1f} s, cpu {f['cpu_s']:.1f} s, peak {f['peak_mb']:.0f} MB, "
                f"{published:,} published, {lines / f['wall_s']:,.0f} inbound events/s "
                f"({100 * anchor / f['wall_s']:.1f} % of the parse-only anchor's rate; load before: {load:.2f})"
            )


if __name__ == "__main__":
    main()
