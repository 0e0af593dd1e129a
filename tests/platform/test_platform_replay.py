"""`collections replay` on a generated portfolio: deterministic, resumable with --state, clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collections_events.config import load_config
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

CLI = [sys.executable, "-m", "collections_platform.cli"]


def replay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "replay", *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The whole input, and its two halves split at a business date's close."""
    base = tmp_path_factory.mktemp("replay")
    events = [json.dumps(e) for e in generate_events(PortfolioSettings(seed=5, accounts=25, days=30))]
    closes = [i for i, line in enumerate(events) if '"type": "day.closed"' in line]
    cut = closes[len(closes) // 2] + 1
    paths = base / "whole.jsonl", base / "first.jsonl", base / "second.jsonl"
    for path, part in zip(paths, (events, events[:cut], events[cut:]), strict=True):
        path.write_text("\n".join(part) + "\n")
    return paths


def test_same_input_gives_byte_identical_output(generated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    whole = generated[0]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert replay(whole, "--out", first).returncode == 0
    assert replay(whole, "--out", second).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size > 0


def test_two_halves_with_state_give_the_whole(generated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    whole, first, second = generated
    state = tmp_path / "state"
    out_whole, out_1, out_2 = tmp_path / "whole.out", tmp_path / "1.out", tmp_path / "2.out"
    assert replay(whole, "--out", out_whole).returncode == 0
    assert replay(first, "--out", out_1, "--state", state).returncode == 0
    assert replay(second, "--out", out_2, "--state", state).returncode == 0
    assert out_1.read_bytes() + out_2.read_bytes() == out_whole.read_bytes()


def test_unreadable_lines_in_continuing_files_get_distinct_ids_the_whole_file_gives(tmp_path: Path) -> None:
    # An unreadable line has no event id: its rejection's id comes from its position in all the
    # input the state has read, so the second file's first line is not a repeat of the first's.
    lines = ["not json", '{"type": "payment.received"}', "{", "[]"]
    whole, first, second = tmp_path / "whole.jsonl", tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    whole.write_text("\n".join(lines) + "\n")
    first.write_text("\n".join(lines[:2]) + "\n")
    second.write_text("\n".join(lines[2:]) + "\n")
    state = tmp_path / "state"
    for args in ((whole, "--out", tmp_path / "w.out"), (first, "--out", tmp_path / "1.out", "--state", state)):
        assert replay(*args).returncode == 0
    assert replay(second, "--out", tmp_path / "2.out", "--state", state).returncode == 0

    def ids(path: Path) -> list[str]:
        return [json.loads(line)["id"] for line in path.read_text().splitlines()]

    halves = ids(tmp_path / "1.out") + ids(tmp_path / "2.out")
    assert len(set(halves)) == 4
    assert halves == ids(tmp_path / "w.out")
    # `line` stays the line in its own file.
    assert [json.loads(x)["data"]["line"] for x in (tmp_path / "2.out").read_text().splitlines()] == [1, 2]


def test_a_bad_config_stops_replay_with_one_line(generated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("outreach:\n  call_cap:\n    days: 0\n")
    done = replay(generated[0], "--out", tmp_path / "o.jsonl", "--config", config)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0
    assert "outreach.call_cap.days" in done.stderr


def test_a_missing_input_stops_replay_with_one_line(tmp_path: Path) -> None:
    done = replay(tmp_path / "nowhere.jsonl", "--out", tmp_path / "o.jsonl")
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0
    assert "nowhere.jsonl" in done.stderr


def test_a_full_disk_or_an_unusable_state_is_one_line(generated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    full = replay(generated[1], "--out", "/dev/full")  # every write fails: ENOSPC
    assert full.returncode != 0 and full.stderr.strip().count("\n") == 0
    assert "No space left on device" in full.stderr
    state = tmp_path / "state"
    state.mkdir()
    (state / "outreach.sqlite3").write_text("not a database\n")
    unusable = replay(generated[1], "--out", tmp_path / "o.jsonl", "--state", state)
    assert unusable.returncode != 0 and unusable.stderr.strip().count("\n") == 0
    assert "cannot be used" in unusable.stderr
    under_a_file = replay(generated[1], "--out", tmp_path / "o.jsonl", "--state", generated[1] / "sub")
    assert under_a_file.returncode != 0 and under_a_file.stderr.strip().count("\n") == 0


def test_hostile_json_lines_are_rejected_one_each_and_the_run_goes_on(tmp_path: Path) -> None:
    # Nesting beyond the parser's recursion limit and an integer beyond Python's digit limit used to
    # end the run with a traceback (issue 15); each is one rejection that says why.
    valid = json.dumps(next(iter(generate_events(PortfolioSettings(seed=5, accounts=1, days=1)))))
    lines = ["[" * 5000, '{"specversion": "1.0", "n": ' + "9" * 5000 + "}", valid, "not json"]
    source, out = tmp_path / "hostile.jsonl", tmp_path / "o.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = replay(source, "--out", out)
    assert done.returncode == 0, done.stderr
    rejected = [json.loads(x) for x in out.read_text().splitlines() if '"system.event_rejected"' in x]
    assert [r["data"]["line"] for r in rejected] == [1, 2, 4]  # the valid line 3 applied, the run went on
    assert "nested too deeply" in rejected[0]["data"]["reason"]
    assert "a number with too many digits" in rejected[1]["data"]["reason"]


def test_the_size_limit_counts_the_event_not_its_line_terminator(tmp_path: Path) -> None:
    event = json.dumps(next(iter(generate_events(PortfolioSettings(seed=5, accounts=1, days=1)))))
    limit = 256 * 1024
    # JSON whitespace pads the event to exactly the limit, and to one byte over it.
    at_limit, over = event[:-1] + " " * (limit - len(event)) + "}", event[:-1] + " " * (limit + 1 - len(event)) + "}"
    assert (len(at_limit.encode()), len(over.encode())) == (limit, limit + 1)
    for line, terminator in ((at_limit, "\n"), (at_limit, "\r\n"), (over, "\n")):
        source, out = tmp_path / "sized.jsonl", tmp_path / "o.jsonl"
        source.write_text(line + terminator, newline="")
        assert replay(source, "--out", out).returncode == 0
        reasons = [json.loads(x)["data"]["reason"] for x in out.read_text().splitlines() if "event_rejected" in x]
        if line is at_limit:
            assert reasons == []
        else:
            assert reasons == [
                f"too large: {limit + 1:,} bytes; an inbound event is at most {limit:,} bytes (README, Limits)"
            ]


def test_a_lone_surrogate_a_nul_or_a_date_past_the_contracts_range_is_one_rejection(tmp_path: Path) -> None:
    # Found by a newcomer: "\ud800" in a subject ended the run with a traceback (or, in data, was
    # accepted and then failed two services); a close on 9999-12-31 was applied by one service and
    # overflowed two others. Each is now one rejection by validation, and the run goes on.
    events = list(generate_events(PortfolioSettings(seed=5, accounts=1, days=3)))
    opened = json.dumps(events[0])
    close = next(e for e in events if e["type"] == "day.closed")
    far_close = json.dumps({**close, "id": "close-far", "data": {**close["data"], "as_of": "9999-12-31"}})
    lines = [
        opened.replace('"subject": "', '"subject": "\\ud800', 1),
        opened[:-1] + ', "extra": "\\udfff"}',
        far_close,
        opened.replace('"subject": "', '"subject": "nul\\u0000', 1),
        opened,
    ]
    source, out = tmp_path / "odd.jsonl", tmp_path / "o.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = replay(source, "--out", out)
    assert done.returncode == 0, done.stderr
    rejected = [json.loads(x)["data"] for x in out.read_text().splitlines() if '"system.event_rejected"' in x]
    assert [r["line"] for r in rejected] == [1, 2, 3, 4]
    assert all("escape of a lone surrogate" in r["reason"] for r in rejected[:2])
    assert "from 1900-01-01 to 2999-12-31" in rejected[2]["reason"]
    assert "a NUL character" in rejected[3]["reason"]
    assert "5 lines, 1 events in, 4 lines refused" in done.stderr


def test_replay_refuses_to_write_over_its_input_and_keeps_its_config_in_the_state(
    generated: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(generated[1].read_bytes())
    done = replay(source, "--out", source)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "is the input file" in done.stderr
    assert source.read_bytes() == generated[1].read_bytes()
    config = tmp_path / "arms.yaml"
    config.write_text(
        "outreach:\n  experiments:\n    - {id: calls-first, share_pct: 50, strategy: "
        "[{id: c, channel: call, template: collection_call, from_dpd: 1}]}\n"
    )
    state = tmp_path / "state"
    assert replay(source, "--out", tmp_path / "o.jsonl", "--state", state, "--config", config).returncode == 0
    kept = load_config(state / "config.yaml")
    assert [e.id for e in kept.outreach.experiments] == ["calls-first"]


def test_a_config_nested_thousands_deep_is_one_line(generated: tuple[Path, Path, Path], tmp_path: Path) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text("outreach:\n  strategy: " + "[" * 10_000 + "]" * 10_000 + "\n")
    done = replay(generated[1], "--out", tmp_path / "o.jsonl", "--config", config)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr[-500:]
    assert "nested too deeply" in done.stderr


def test_two_replays_on_one_state_at_once_the_second_is_one_line(
    generated: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    state, long_input = tmp_path / "state", tmp_path / "long.jsonl"
    long_input.write_text(
        "".join(json.dumps(e) + "\n" for e in generate_events(PortfolioSettings(seed=6, accounts=150, days=60)))
    )
    first = subprocess.Popen(
        [*CLI, "replay", str(long_input), "--out", str(tmp_path / "1.jsonl"), "--state", str(state)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (state / ".replay.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the first holds the lock from before it opens its databases
        second = replay(generated[1], "--out", tmp_path / "2.jsonl", "--state", state)
    finally:
        first.wait(timeout=300)
    if first.returncode == 0 and second.returncode == 0:
        pytest.fail("the first replay ended before the second started: the test proved nothing")
    assert second.returncode == 2 and second.stderr.strip().count("\n") == 0, second.stderr
    assert "is in use by another replay" in second.stderr
    assert first.returncode == 0
    assert int((state / "replay-lines-read").read_text()) == len(long_input.read_text().splitlines())
