"""The distributed platform for end-to-end tests: each service its own OS process.

`distributed_platform(config_dict, env=...)` (a fixture factory) gives a `DistributedPlatform`: the
four `collections-<service> run` processes on the session's real Kafka and PostgreSQL, one fresh
database each, unique topics (a COLLECTIONS_CONFIG file), an API port each. It stops what it
started when the test ends (SIGTERM, then SIGKILL after 20 s), by process, and prints the tail of
each service's log when a test fails.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collections_events.config import PlatformConfig, parse_config
from collections_events.registry import TOPIC_KEYS
from collections_events.runtime.service import ServiceSpec
from collections_events.testing import start_service_process, stop_service_process, unique_topics_config
from collections_platform.distributed import Settler, settle_timeout
from collections_platform.services import available_specs

READY_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DistributedPlatform:
    """Four service processes, their databases, ports and configuration."""

    def __init__(
        self,
        bootstrap: str,
        create_db: Callable[[str], str],
        workdir: Path,
        config: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.specs: dict[str, ServiceSpec] = {s.name: s for s in available_specs()}
        assert set(self.specs) == {"ledger", "delinquency", "outreach", "legal"}
        topics = unique_topics_config().topics
        self.config_dict = {**config, "topics": {key: topics.name(key) for key in TOPIC_KEYS}}
        self.config: PlatformConfig = parse_config(self.config_dict)
        self.config_path = workdir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config_dict), encoding="utf-8")
        self.workdir = workdir
        self.urls = {name: create_db(name) for name in self.specs}
        self.ports = {name: free_port() for name in self.specs}
        self.extra_env = dict(env or {})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []

    def env(self, name: str) -> dict[str, str]:
        """The environment of `collections-<name> run`."""
        return {
            "DATABASE_URL": self.urls[name],
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "COLLECTIONS_CONFIG": str(self.config_path),
            "PORT": str(self.ports[name]),
            "HOST": "127.0.0.1",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_PARTITIONS": "3",
            "LOG_LEVEL": "WARNING",
            "COLLECTIONS_TEST_LOG_DIR": str(self.workdir),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            **self.extra_env,
        }

    def spawn(self, name: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start (or start again) service `name` as its own OS process; returns the process."""
        proc = start_service_process(name, {**self.env(name), **(env or {})})
        self.procs[name] = proc
        self.logs.append(proc.log_path)  # type: ignore[attr-defined]
        return proc

    async def ready(self, name: str, timeout: float = READY_TIMEOUT_S) -> None:  # noqa: ASYNC109
        """Until `name`'s /ready answers 200; raises if the process exits or the timeout passes."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.ports[name]}", timeout=2) as http:
            while True:
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
                try:
                    if (await http.get("/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout}s:\n{self.tail(name)}")
                await asyncio.sleep(0.2)

    async def start(self) -> None:
        """Start every service (in parallel) and wait until each API says ready."""
        for name in self.specs:
            self.spawn(name)
        await asyncio.gather(*(self.ready(name) for name in self.specs))

    def kill(self, name: str) -> int:
        """SIGKILL service `name` (no clean-up runs) and reap it; returns its exit status."""
        proc = self.procs[name]
        proc.kill()
        return proc.wait()

    async def restart(self, name: str, env: Mapping[str, str] | None = None) -> None:
        """Start `name` again on the same database and port; waits until it is ready."""
        self.spawn(name, env)
        await self.ready(name)

    def settler(self) -> Settler:
        """A Settler over these services (use `async with`)."""
        return Settler(self.bootstrap, self.config, list(self.specs.values()), self.urls)

    async def settle(self, settler: Settler, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until settled; a service that died meanwhile fails the wait with its log."""
        try:
            await settler.wait(timeout or settle_timeout())
        except TimeoutError as exc:
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            raise TimeoutError(f"{exc}; exited: {dead}") from None

    def tail(self, name: str, lines: int = 40) -> str:
        """The last lines of `name`'s current log."""
        path = self.procs[name].log_path  # type: ignore[attr-defined]
        try:
            return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop every process this platform started: SIGTERM to all at once, then SIGKILL after 20 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            stop_service_process(proc)


@pytest.fixture
async def distributed_platform(
    kafka_bootstrap: str, create_pg_database: Callable[[str], str], tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., DistributedPlatform]]:
    """A factory of `DistributedPlatform`s (not started); every one is stopped at the end."""
    made: list[DistributedPlatform] = []

    def make(config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> DistributedPlatform:
        workdir = tmp_path / f"platform{len(made)}"
        workdir.mkdir()
        platform = DistributedPlatform(kafka_bootstrap, create_pg_database, workdir, config, env)
        made.append(platform)
        return platform

    yield make
    failed = getattr(request.node, "rep_call", None)
    for platform in made:
        platform.stop()
        if failed is not None and failed.failed:
            for name in platform.procs:
                print(f"--- {name} log tail ---\n{platform.tail(name)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item (so the fixture can tell that the test failed)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
