"""deploy/local/prometheus.sh and jaeger.sh for real: scrape the platform's metrics, read a trace back.

Prometheus comes from Debian's package (installed by the script when missing). Jaeger v2 (a slim build)
is built from the Go module proxy once (a few minutes) into ~/.cache/collections/jaeger; without that
binary the Jaeger test skips and says how to build it (`deploy/local/jaeger.sh install`), or in CI
(CI=true or COLLECTIONS_REQUIRE_BUILDS=1) fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"


def _jaeger_built() -> bool:
    """`jaeger.sh path` exits 0 when the binary of its current recipe is built."""
    return subprocess.run([str(LOCAL / "jaeger.sh"), "path"], capture_output=True).returncode == 0


def _observability_tests() -> Any:
    spec = importlib.util.spec_from_file_location(
        "deploy_observability_tests", Path(__file__).with_name("test_observability.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _script(name: str, *args: str, state: Path) -> dict[str, str]:
    env = {**os.environ, "COLLECTIONS_STATE": str(state)}
    done = subprocess.run([str(LOCAL / name), *args], check=True, capture_output=True, text=True, env=env, timeout=900)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def metrics_target() -> Iterator[str]:
    """An HTTP server on loopback serving the exposition of every instrument, recorded once."""
    exposition = _observability_tests().exercised().exposition()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(exposition)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_prometheus_scrapes_every_metric_the_dashboards_and_rules_use(metrics_target: str, tmp_path: Path) -> None:
    obs = _observability_tests()
    used = set().union(*(obs.metrics_in(expr) for _, expr in obs._dashboard_exprs() + obs._rule_exprs()))
    url = _script("prometheus.sh", "start", f"ledger={metrics_target}", state=tmp_path)["PROMETHEUS_URL"]
    try:
        deadline = time.monotonic() + 60
        missing = set(used)
        while missing and time.monotonic() < deadline:
            names = set(_get(f"{url}/api/v1/label/__name__/values")["data"])
            missing = {m for m in used if not ({m, f"{m}_bucket", f"{m}_count"} & names)}
            time.sleep(1)
        assert not missing, f"not in Prometheus: {sorted(missing)}"
        rules = _get(f"{url}/api/v1/rules")["data"]["groups"]
        assert {r["health"] for g in rules for r in g["rules"]} == {"ok"}
    finally:
        _script("prometheus.sh", "stop", state=tmp_path)


def test_jaeger_receives_otlp_and_returns_the_trace_by_id(
    tmp_path: Path, missing_build: Callable[[str], NoReturn]
) -> None:
    if not _jaeger_built():
        missing_build("Jaeger not built: run deploy/local/jaeger.sh install (a few minutes, once)")
    addresses = _script("jaeger.sh", "start", state=tmp_path)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "collections-ledger"}))
        endpoint = addresses["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/traces"
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("process lender.payments.v1") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            with tracer.start_as_current_span("send collections.ledger.v1"):
                pass
        provider.shutdown()

        query = addresses["JAEGER_QUERY_URL"]
        deadline = time.monotonic() + 30
        while True:
            try:
                data = _get(f"{query}/api/traces/{urllib.parse.quote(trace_id)}")["data"]
                if data and len(data[0]["spans"]) == 2:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "trace not found in Jaeger"
            time.sleep(0.5)
        assert {p["serviceName"] for p in data[0]["processes"].values()} == {"collections-ledger"}
    finally:
        _script("jaeger.sh", "stop", state=tmp_path)
