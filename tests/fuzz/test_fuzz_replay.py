"""The fuzz campaign through `collections replay` (issue 15, Fuzzing).

One run of the real command over one file: a small seeded portfolio, then COLLECTIONS_FUZZ_MESSAGES
generated and mutated messages (campaign.py). It must exit 0 with no traceback; every line the
platform cannot read gets exactly one `system.event_rejected` naming its line; every line it can
read is either applied (some service's inbox holds its id) or rejected once by a business rule, never
twice and never as a handler failure; every message the generator made invalid is rejected; every
output line is a valid event. Prints the counts.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from collections_events.testing import import_file
from collections_events.validation import Event, read_structured
from collections_platform.replay import _read_line

campaign = import_file(Path(__file__).parent / "campaign.py", "fuzz_campaign")

CLI = [sys.executable, "-m", "collections_platform.cli"]


def _no_constant(name: str) -> None:
    raise AssertionError(f"output holds {name}, which is not JSON")


def test_replay_reads_every_fuzzed_line_applies_or_rejects_it_once_and_never_crashes(tmp_path: Path) -> None:
    started = time.monotonic()
    messages = campaign.size("COLLECTIONS_FUZZ_MESSAGES", 3000)
    built = campaign.build(messages, pool_per_type=campaign.size("COLLECTIONS_FUZZ_POOL", 12))
    lines = [*built.portfolio, *(m.line for m in built.messages)]
    must_reject = [False] * len(built.portfolio) + [m.must_reject for m in built.messages]
    kinds = ["portfolio"] * len(built.portfolio) + [m.kind for m in built.messages]
    source = tmp_path / "fuzz.jsonl"
    # A byte order mark before the first line is allowed (and stripped); lines end in \n or \r\n.
    source.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    generated_in = time.monotonic() - started

    state, out = tmp_path / "state", tmp_path / "out.jsonl"
    done = subprocess.run(
        [*CLI, "replay", str(source), "--out", str(out), "--state", str(state)],
        capture_output=True,
        timeout=1800,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]

    rejections: Counter[int] = Counter()
    failed_handlers = []
    for number, raw in enumerate(out.read_bytes().splitlines(), start=1):
        parsed = read_structured(json.loads(raw.decode("utf-8"), parse_constant=_no_constant))
        assert isinstance(parsed, Event), f"output line {number} is not a valid event: {parsed}"
        if parsed.type == "system.event_rejected":
            data = parsed.envelope.data
            assert isinstance(data["line"], int), data
            rejections[data["line"]] += 1
            if data["reason"].startswith("handler failed"):
                failed_handlers.append(data)

    handled: set[str] = set()
    for db in state.glob("*.sqlite3"):
        with sqlite3.connect(db) as conn:
            handled.update(row[0] for row in conn.execute("SELECT event_id FROM inbox"))

    applied = rejected_unread = rejected_by_rule = 0
    problems = []
    for number, line in enumerate(lines, start=1):
        parsed = _read_line(line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line)
        seen = rejections[number]
        if not isinstance(parsed, Event):
            rejected_unread += 1
            if seen != 1:
                problems.append(f"line {number} ({kinds[number - 1]}): unreadable, {seen} rejections")
            continue
        if must_reject[number - 1]:
            problems.append(f"line {number} ({kinds[number - 1]}): accepted although invalid: {line[:300]!r}")
        if seen == 1:
            rejected_by_rule += 1
        elif seen == 0 and parsed.id in handled:
            applied += 1
        else:
            problems.append(
                f"line {number} ({kinds[number - 1]}): valid, {seen} rejections, handled={parsed.id in handled}"
            )

    print(
        f"\nfuzz replay: {len(built.messages):,} generated (+{len(built.portfolio)} portfolio lines, "
        f"generated in {generated_in:.1f} s), {applied:,} applied, {rejected_unread:,} rejected unread, "
        f"{rejected_by_rule:,} rejected by a rule, {len(failed_handlers)} crashes, exit {done.returncode}, "
        f"{time.monotonic() - started:.1f} s"
    )
    print("  kinds:", ", ".join(f"{k} {n}" for k, n in sorted(built.kinds.items())))
    print("  " + stderr.strip().splitlines()[-1])
    assert not failed_handlers, failed_handlers[:5]
    assert not problems, "\n".join(problems[:30])
    assert applied + rejected_unread + rejected_by_rule == len(lines)
