"""Benchmark: `make run`'s simulation (the embedded default: four services on SQLite in one process).
Prints figures; it is not a test.

    uv run python bench/embedded/make_run.py [--accounts 2000] [--days 180] [--repeat 1] [--profile N]

Each repeat runs `collections run --no-serve` in a fresh state directory as a child process and
prints its wall time, its CPU time (user + system, from the child's rusage: less sensitive than wall
time to other work on the machine), the events it handled and published, and the load average
before it started. With --profile N, one more run under cProfile prints its N costliest functions.
Issue 6 asks for the default run (2,000 accounts x 180 business days) in under two minutes here.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def one_run(accounts: int, days: int, *, profile_to: Path | None = None) -> dict[str, float]:
    """Run the simulation once in a fresh state directory; returns its figures."""
    with tempfile.TemporaryDirectory(prefix="collections-bench-run-") as state:
        command = [sys.executable]
        if profile_to is not None:
            command += ["-m", "cProfile", "-o", str(profile_to)]
        command += ["-m", "collections_platform.cli", "run", "--no-serve"]
        command += ["--accounts", str(accounts), "--days", str(days), "--state", state]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "sys_s": after.ru_stime - before.ru_stime,
            "events_in": _lines(Path(state) / "input.jsonl"),
            "events_out": _lines(Path(state) / "output.jsonl"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile one run; print top N")
    args = parser.parse_args()
    print(f"make run's simulation: {args.accounts} accounts x {args.days} business days, {os.cpu_count()} cores")
    for n in range(1, args.repeat + 1):
        load = os.getloadavg()[0]
        figures = one_run(args.accounts, args.days)
        handled = figures["events_in"] + figures["events_out"]
        print(
            f"run {n}: wall {figures['wall_s']:.1f} s, cpu {figures['cpu_s']:.1f} s (system {figures['sys_s']:.1f}), "
            f"{figures['events_in']:.0f} events in, {figures['events_out']:.0f} published, "
            f"{handled / figures['wall_s']:.0f} events/s (load before: {load:.2f})"
        )
    if args.profile:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "run.prof"
            one_run(args.accounts, args.days, profile_to=out)
            pstats.Stats(str(out)).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
