"""The broker killed with SIGKILL, the database stopped with `pg_ctl stop -m immediate`, mid-stream.

Each test runs the four services as their own OS processes (as test_distributed_crash_recovery
does) on a PRIVATE server of the kind it breaks: its own COLLECTIONS_STATE folder, its own port
(deploy/local/kafka.sh or postgres.sh `start`), so the session's broker and database are untouched.
A generated portfolio (8 accounts, 20 business days) is published in file order, settling at day
closes and topic changes, so the platform must publish exactly what `collections replay` does.

Around one day close the server goes away without any clean-up: the broker is SIGKILLed right after
the close is acknowledged, with consumer groups certainly behind (legal is frozen with SIGSTOP from
before the close until the kill, as a slow consumer would be); PostgreSQL is stopped once the day
before has settled, and the close is published while it is away, so the services consume it
during the outage and must retry it. The server stays away a few seconds and is then started again
on the same data dir and port (`kafka.sh restart` / `postgres.sh restart`). Throughout:
- every service process stays up (none exits, none is restarted);
- every service's `/ready` answers 503 while the server is away and 200 once it is back;
- nothing is rejected or dead-lettered (no `system.event_rejected`, every `.dlq` topic empty);
- after recovery the distinct published events equal replay's, id for id and field for field, and
  a message that is on the wire more than once is a byte-identical republish (decision 0003).
The recovery time (from the restart command to every group caught up and every outbox empty) is
printed.

The private PostgreSQL runs with `synchronous_commit = on`: the session's test cluster turns it off
for speed, and with it off an immediate stop (a crash, for PostgreSQL) may lose transactions it has
already reported committed (PostgreSQL manual, "Asynchronous Commit") after the service has committed
its Kafka offsets, which no consumer could make up for. `fsync` stays off: the OS does not crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from collections_events.config import parse_config
from collections_events.testing import consume_all, import_file
from collections_events.transport.kafka import dead_letter_topic
from collections_platform.distributed import Settler, comparable, publish_file, read_published, read_wire, settle_points
from collections_platform.replay import replay
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.faults]

ROOT = Path(__file__).parents[2]
LOCAL = ROOT / "deploy" / "local"
e2e = import_file(ROOT / "tests" / "e2e" / "conftest.py", "faults_e2e_platform")

CONFIG = {"legal": {"referral_dpd": 10}, "delinquency": {"charge_off_dpd": 15}}
SETTINGS = PortfolioSettings(seed=18, accounts=8, days=20, start=date(2026, 1, 5))
FAULT_AT_CLOSE = 16  # the 16th day.closed (delinquency, outreach and legal all act on it)
SLOW = "legal"  # in the broker test, frozen (SIGSTOP) from just before the close until the kill
OUTAGE_MIN_S = 4.0  # the server stays away at least this long (and until every /ready says 503)
UNREADY_TIMEOUT_S = 40.0
SCRIPT_TIMEOUT_S = 150.0
SETTLE_TIMEOUT_S = 120.0
TEST_TIMEOUT_S = 300.0


# -- private servers ---------------------------------------------------------------------------
class PrivateServer:
    """One server started by deploy/local/<script> in a state folder of its own."""

    def __init__(self, script: str) -> None:
        self.script = script
        # Not under pytest's tmp_path: PostgreSQL runs as an unprivileged user that must reach it.
        self.state = Path(tempfile.mkdtemp(prefix=f"collections-faults-{script.split('.')[0]}-"))
        os.chmod(self.state, 0o755)

    def run(self, command: str) -> str:
        """`<script> <command>`; returns its last stdout line (the address)."""
        env = {**os.environ, "COLLECTIONS_STATE": str(self.state)}
        done = subprocess.run(
            [str(LOCAL / self.script), command],
            env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{self.script} {command} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        """Stop it (by its pid file) and delete its state."""
        with contextlib.suppress(Exception):
            self.run("stop")
        shutil.rmtree(self.state, ignore_errors=True)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, killed but not reaped by its adopter, does not)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() != b""
    except OSError:
        return False


def _until_dead(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still runs after {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def private_kafka() -> Iterator[PrivateServer]:
    """A broker of this test's own (it is killed)."""
    server = PrivateServer("kafka.sh")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivateServer]:
    """A PostgreSQL cluster of this test's own (it is stopped the hard way)."""
    server = PrivateServer("postgres.sh")
    try:
        yield server
    finally:
        server.stop()


def kill_kafka(server: PrivateServer) -> None:
    """SIGKILL the broker's JVM (no clean shutdown, no log flush beyond what the OS has)."""
    pid = int((server.state / "kafka" / "kafka.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    _until_dead(pid)


def stop_postgres_immediately(server: PrivateServer) -> None:
    """`pg_ctl stop -m immediate` as the cluster's owner: every backend quits at once, recovery at restart."""
    data = server.state / "postgres" / "data"
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    bindir = Path(os.readlink(f"/proc/{pid}/exe")).parent
    owner = data.owner()
    command = [str(bindir / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate", "-w", "-t", "30"]
    if owner != subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip():
        command = ["runuser", "-u", owner, "--", *command]
    subprocess.run(command, cwd=server.state, capture_output=True, check=True, timeout=60)
    _until_dead(pid)


# -- the run -----------------------------------------------------------------------------------
def _portfolio(tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    """The generated portfolio's events and the replay-style file holding them."""
    events = list(generate_events(SETTINGS))
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return events, source


async def _replayed(source: Path, out: Path) -> list[dict[str, Any]]:
    await replay(source, out, parse_config(CONFIG), None)
    text = await asyncio.to_thread(out.read_text, encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


async def _ready_status(platform: Any, name: str) -> int | None:
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.ports[name]}", timeout=10) as http:
            return (await http.get("/ready")).status_code
    except httpx.HTTPError:
        return None


async def _until_unready(platform: Any, name: str) -> float:
    """Seconds until `name`'s /ready answers 503 (its process must stay up meanwhile)."""
    began = time.monotonic()
    while True:
        assert platform.procs[name].poll() is None, f"{name} exited:\n{platform.tail(name)}"
        if await _ready_status(platform, name) == 503:
            return time.monotonic() - began
        if time.monotonic() - began > UNREADY_TIMEOUT_S:
            raise TimeoutError(f"{name}'s /ready never said 503 during the outage")
        await asyncio.sleep(0.2)


async def _start(platform: Any) -> None:
    """Start the four services; one whose API port was taken meanwhile (e2e's `free_port` picks a port and
    frees it, and any outgoing connection may take it before uvicorn binds) starts again on another."""
    for name in platform.specs:
        platform.spawn(name)
    for name in platform.specs:
        for attempt in range(3):
            try:
                await platform.ready(name)
                break
            except RuntimeError:
                if attempt == 2 or "address already in use" not in platform.tail(name):
                    raise
                platform.ports[name] = e2e.free_port()
                platform.spawn(name)


async def _close_quietly(settler: Settler) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(settler.close(), timeout=15)


async def run_through_fault(
    platform: Any,
    events: list[dict[str, Any]],
    source: Path,
    fault: Callable[[], None],
    restart: Callable[[], None],
    what: str,
    *,
    before_close: bool,
) -> dict[str, int]:
    """Publish `source` with settling, the server away around the fault close; returns the services'
    log counts of what they retried (see LOGGED).

    `before_close=False`: the server goes away right after the close is acknowledged, while the
    cascade is in flight; to make sure it is, SLOW is frozen (SIGSTOP, a slow consumer) from before
    the close is published until the kill, so its group is behind when the broker dies (asserted).
    `before_close=True`: the server goes away once the day before has settled, and the close is
    published while it is away (the services consume it during the outage and must wait).
    """
    closes = [e["id"] for e in events if e["type"] == "day.closed"]
    fault_index = next(i for i, e in enumerate(events) if e["id"] == closes[FAULT_AT_CLOSE - 1])
    down_after = fault_index - 1 if before_close else fault_index
    settle_after = settle_points(events)

    await _start(platform)
    started = len(platform.logs)
    settlers = [platform.settler()]
    await settlers[0].start()
    position = iter(range(len(events)))
    went_down = [0.0]

    async def go_down() -> None:
        if not before_close:
            lag = await settlers[0].lag_by_group()
            print(f"{what} killed with consumer groups behind: {lag}")
            assert lag[f"collections-{SLOW}"] >= 1, "the kill must find the slow consumer behind"
        went_down[0] = time.monotonic()
        try:
            await asyncio.to_thread(fault)
        finally:
            if not before_close:
                platform.procs[SLOW].send_signal(signal.SIGCONT)
        unready = await asyncio.gather(*(_until_unready(platform, name) for name in platform.specs))
        print(f"{what} down: every /ready said 503 within {max(unready):.1f}s")

    async def come_back() -> None:
        await asyncio.sleep(max(0.0, OUTAGE_MIN_S - (time.monotonic() - went_down[0])))
        dead = {n: p.returncode for n, p in platform.procs.items() if p.poll() is not None}
        assert not dead, f"services exited during the {what} outage: {dead}"
        assert all([await _ready_status(platform, name) == 503 for name in platform.specs])
        restarted = time.monotonic()
        print(f"{what} restarted after {restarted - went_down[0]:.1f}s away")
        await asyncio.to_thread(restart)
        up = time.monotonic() - restarted
        await _close_quietly(settlers[0])  # its connections were to the server that went away
        settlers[0] = platform.settler()
        await settlers[0].start()
        await asyncio.gather(*(platform.ready(name) for name in platform.specs))
        ready = time.monotonic() - restarted
        await platform.settle(settlers[0], SETTLE_TIMEOUT_S)
        print(
            f"{what} recovery: server up in {up:.1f}s, every /ready 200 after {ready:.1f}s, "
            f"all caught up {time.monotonic() - restarted:.1f}s after the restart"
        )

    async def wait(line: dict[str, Any] | None) -> None:
        index = next(position)
        assert line is not None and line["id"] == events[index]["id"]
        if settle_after[index] and index != fault_index:
            await platform.settle(settlers[0], SETTLE_TIMEOUT_S)
        if not before_close and index == fault_index - 1:
            platform.procs[SLOW].send_signal(signal.SIGSTOP)  # after the day before has settled
        if index == down_after:
            await go_down()
        if index == fault_index:
            await come_back()

    try:
        await platform.settle(settlers[0], SETTLE_TIMEOUT_S)
        began = time.monotonic()
        await publish_file(platform.bootstrap, source, platform.config, wait)
        await platform.settle(settlers[0], SETTLE_TIMEOUT_S)
        print(f"fed {len(events)} events through the {what} outage in {time.monotonic() - began:.1f}s")
    finally:
        await _close_quietly(settlers[0])
    assert went_down[0] > 0
    dead = {n: p.returncode for n, p in platform.procs.items() if p.poll() is not None}
    assert not dead, f"services exited: {dead}"
    assert len(platform.logs) == started, "a service was started again"
    counts = logged(platform.logs[-len(platform.specs) :])
    print(f"{what}: what the services logged meanwhile: {counts}")
    return counts


# Log events (runtime/consumer.py, runtime/publisher.py) that show a service met the outage and waited.
LOGGED = {
    "poll not processed; will retry": "polls retried",
    "publish failed; rows stay in the outbox": "sends retried",
    "offset commit failed; will retry": "offset commits retried",
    "handler failed; event dead-lettered": "dead-lettered",
    "event rejected": "rejected",
}


def logged(paths: list[Path]) -> dict[str, int]:
    """How many times the service logs say each event of LOGGED."""
    counts = dict.fromkeys(LOGGED.values(), 0)
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                event = json.loads(line).get("event")
                if event in LOGGED:
                    counts[LOGGED[event]] += 1
    return counts


async def assert_published_equals_replay(platform: Any, expected: list[dict[str, Any]]) -> None:
    """0 lost, 0 duplicated by id; republished copies byte-identical; nothing rejected or dead-lettered."""
    records = await read_published(platform.bootstrap, platform.config)
    wire = read_wire(records)
    published = wire.published
    assert wire.unreadable == [] and wire.different_copies == [], (wire.unreadable, wire.different_copies)
    print(f"{wire.messages} messages on the wire, {len(published)} distinct events, {wire.republished} republished")

    assert not [e for e in published.values() if e["type"] == "system.event_rejected"]
    dlq = sorted({dead_letter_topic(platform.config.topics.name(k)) for s in platform.specs.values() for k in s.topics})
    dead_letters = await consume_all(platform.bootstrap, dlq, timeout=60)
    assert not dead_letters, f"{len(dead_letters)} dead letters"

    assert len({e["id"] for e in expected}) == len(expected)
    assert not [e for e in expected if e["type"] == "system.event_rejected"]
    got, want = {comparable(e) for e in published.values()}, {comparable(e) for e in expected}
    assert got == want, f"missing {len(want - got)}, unexpected {len(got - want)}"
    types = {e["type"] for e in expected}
    assert {"delinquency.bucket_changed", "outreach.contact_requested", "legal.case_opened"} <= types


async def _with_logs_on_failure(platform: Any, body: Awaitable[None]) -> None:
    try:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            await body
    except BaseException:
        for name in platform.procs:
            print(f"--- {name} log tail ---\n{platform.tail(name, 60)}")
        raise
    finally:
        platform.stop()


def _psql(url: str, statement: str) -> None:
    subprocess.run(["psql", url, "-qc", statement], check=True, capture_output=True, timeout=30)


# -- the tests ---------------------------------------------------------------------------------
async def test_broker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(
    private_kafka: PrivateServer, create_pg_database: Callable[[str], str], tmp_path: Path
) -> None:
    bootstrap = await asyncio.to_thread(private_kafka.run, "start")
    events, source = _portfolio(tmp_path)
    expected = await _replayed(source, tmp_path / "replay.jsonl")
    workdir = tmp_path / "platform"
    workdir.mkdir()
    platform = e2e.DistributedPlatform(bootstrap, create_pg_database, workdir, CONFIG)

    def restart() -> None:
        assert private_kafka.run("restart") == bootstrap  # the same port

    async def body() -> None:
        counts = await run_through_fault(
            platform, events, source, lambda: kill_kafka(private_kafka), restart, "Kafka", before_close=False
        )
        assert counts["dead-lettered"] == counts["rejected"] == 0
        await assert_published_equals_replay(platform, expected)

    await _with_logs_on_failure(platform, body())


async def test_postgres_stopped_immediately_and_restarted_loses_and_duplicates_nothing(
    private_postgres: PrivateServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    url = await asyncio.to_thread(private_postgres.run, "start")
    for statement in ("ALTER SYSTEM SET synchronous_commit = on", "SELECT pg_reload_conf()"):
        await asyncio.to_thread(_psql, url, statement)

    def create_db(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _psql(url, f'CREATE DATABASE "{name}"')
        return url.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"

    events, source = _portfolio(tmp_path)
    expected = await _replayed(source, tmp_path / "replay.jsonl")
    workdir = tmp_path / "platform"
    workdir.mkdir()
    platform = e2e.DistributedPlatform(kafka_bootstrap, create_db, workdir, CONFIG)

    def restart() -> None:
        assert private_postgres.run("restart") == url  # the same port

    async def body() -> None:
        counts = await run_through_fault(
            platform,
            events,
            source,
            lambda: stop_postgres_immediately(private_postgres),
            restart,
            "PostgreSQL",
            before_close=True,
        )
        assert counts["polls retried"] > 0, "no service consumed during the outage"
        assert counts["dead-lettered"] == counts["rejected"] == 0
        await assert_published_equals_replay(platform, expected)

    await _with_logs_on_failure(platform, body())
