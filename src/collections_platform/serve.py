"""Keep the services' APIs and the operations page up on 127.0.0.1 until Ctrl-C (`collections run`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn

from collections_events.transport.embedded import EmbeddedPlatform
from collections_platform.ops_page import ops_app
from collections_platform.services import ORDER

HOST = "127.0.0.1"
OPS_PORT = 8000
SERVICE_PORTS = {name: 8001 + i for i, name in enumerate(ORDER)}
"""ledger 8001, delinquency 8002, outreach 8003, legal 8004 (fixed, whichever services exist)."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to us: several servers share one loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def api_urls(platform: EmbeddedPlatform) -> list[tuple[str, str]]:
    """(service, base URL) of each service that has an API."""
    return [
        (rt.name, f"http://{HOST}:{SERVICE_PORTS[rt.name]}")
        for rt in platform.runtimes
        if rt.spec.create_api is not None and rt.name in SERVICE_PORTS
    ]


async def serve(platform: EmbeddedPlatform, figures: dict[str, Any]) -> None:
    """Serve every service's API (`ServiceSpec.create_api`) and the operations page until SIGINT/SIGTERM."""
    apps: list[tuple[Any, int]] = [(ops_app(figures, api_urls(platform)), OPS_PORT)]
    for runtime in platform.runtimes:
        if runtime.spec.create_api is not None and runtime.name in SERVICE_PORTS:
            apps.append((runtime.spec.create_api(runtime), SERVICE_PORTS[runtime.name]))
    # log_config=None: uvicorn's records go to the root logger, rendered as the platform's redacted
    # JSON lines (telemetry.setup_logging), not uvicorn's own plain format.
    servers = [
        _Server(uvicorn.Config(app, host=HOST, port=port, log_config=None, log_level="warning", lifespan="on"))
        for app, port in apps
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
