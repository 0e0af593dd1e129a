"""`collections run --no-serve` end to end on the embedded default, and `collections audit verify`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collections_events.validation import Event, read_json
from collections_platform.services import available_specs

CLI = [sys.executable, "-m", "collections_platform.cli"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    state = tmp_path_factory.mktemp("run") / "state"
    done = subprocess.run(
        [*CLI, "run", "--accounts", "50", "--days", "40", "--seed", "3", "--no-serve", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, state


def test_run_completes_and_prints_a_summary(small_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, state = small_run
    assert done.returncode == 0, done.stderr[-2000:]
    for heading in ("Accounts per bucket", "Roll rates", "Contacts by channel", "Suppressions by reason"):
        assert heading in done.stdout
    figures = json.loads((state / "summary.json").read_text())
    assert figures["accounts"] == 50 and figures["days"] == 40
    assert sum(figures["buckets"].values()) == 50
    assert figures["events"]["published"] > 0
    assert figures["rejected"] == {}, figures["rejected"]
    for spec in available_specs():
        assert (state / f"{spec.name}.sqlite3").is_file()


def test_the_recorded_input_is_contract_valid(small_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, state = small_run
    lines = (state / "input.jsonl").read_text().splitlines()
    assert lines
    assert all(isinstance(read_json(line, inbound_only=True), Event) for line in lines)


def test_run_refuses_a_state_dir_holding_other_files(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    done = subprocess.run(
        [*CLI, "run", "--accounts", "2", "--days", "2", "--no-serve", "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "refusing" in done.stderr and (tmp_path / "precious.txt").exists()


def test_audit_verify_after_a_run(small_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, state = small_run
    published = [json.loads(line) for line in (state / "output.jsonl").read_text().splitlines()]
    account = next(e["subject"] for e in published if e["type"] == "outreach.contact_recorded")
    done = subprocess.run([*CLI, "audit", "verify", account, "--state", str(state)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"ok: account {account}:")
    unknown = subprocess.run(
        [*CLI, "audit", "verify", "NO-SUCH", "--state", str(state)], capture_output=True, text=True
    )
    assert unknown.returncode == 3 and "no trail" in unknown.stderr


def test_audit_verify_without_a_database_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "audit", "verify", "acc-00001", "--state", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("collections audit verify:")


def test_replay_of_the_recorded_input_publishes_the_same_events(
    small_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    """The run drains before each close, replay after each event: the same events, ids included
    (under the configuration the run recorded: the simulated lender's agencies)."""
    _, state = small_run
    out = tmp_path / "replayed.jsonl"
    done = subprocess.run(
        [*CLI, "replay", str(state / "input.jsonl"), "--out", str(out), "--config", str(state / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_lines = (state / "output.jsonl").read_text().splitlines()
    assert run_lines
    assert sorted(out.read_text().splitlines()) == sorted(run_lines)


def test_ctrl_c_stops_the_simulation_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    command = [*CLI, "run", "--accounts", "300", "--days", "500", "--no-serve", "--state", str(state)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    recorded = state / "input.jsonl"
    deadline = time.monotonic() + 120
    while (not recorded.exists() or recorded.stat().st_size == 0) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip() == f"collections run: interrupted; the partial state is in {state}"


def test_make_run_in_the_background_stops_at_the_first_sigint_and_keeps_its_state(tmp_path: Path) -> None:
    # Issue 15: a backgrounded `make run` hung until a second SIGINT, and ignored COLLECTIONS_STATE.
    # The job is its own process group, as a shell's background job is; SIGINT goes to the group.
    state = tmp_path / "state"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "COLLECTIONS_STATE": str(state)}
    job = subprocess.Popen(
        ["make", "-s", "run", "RUN_ARGS=--accounts 15 --days 5"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert job.stdout is not None
        seen = []
        for line in job.stdout:  # until it serves
            seen.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any("Ctrl-C to stop" in line for line in seen), "".join(seen[-20:])
        os.killpg(job.pid, signal.SIGINT)
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode in (-signal.SIGINT, 2, 130), job.returncode
    assert (state / "input.jsonl").is_file() and (state / "summary.json").is_file()
