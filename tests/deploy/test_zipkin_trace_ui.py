"""The local trace UI (issue 15): one payment's trace across the four services, seen in Zipkin's UI.

The stack of `make up`, on the test run's Kafka and PostgreSQL: deploy/local/zipkin.sh (the exec jar
from Maven Central) and the slim Jaeger (deploy/local/jaeger.sh) started with ZIPKIN_SPANS_URL, so
Jaeger forwards every span to Zipkin; the four `collections-<svc> run` processes export OTLP to
Jaeger as everywhere. A `payment.received` carrying this test's W3C traceparent is handled by the
ledger and outreach (payments topic) and, through `ledger.balance_changed`, by delinquency and legal:
one trace, four services. Headless Chromium then opens Zipkin's page of that trace. The services'
/metrics and /ready are read meanwhile (as Prometheus and the probes do every few seconds), and no
span may come of them: FastAPI traces every request by itself, so `service_app` excludes those paths.
Without the Jaeger binary (built once, a few minutes: `deploy/local/jaeger.sh install`) the test
skips, or fails in CI.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from collections_events.registry import TOPIC_KEYS
from collections_events.testing import (
    account_opened_data,
    make_envelope,
    produce,
    start_service_process,
    stop_service_process,
    unique_topics_config,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
SERVICES = ("ledger", "delinquency", "outreach", "legal")
TRACE_ID = "5ee1c0ffee5ee1c0ffee5ee1c0ffee15"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _script(name: str, action: str, state: Path, **env: str) -> dict[str, str]:
    done = subprocess.run(
        [str(LOCAL / name), action],
        env={**os.environ, "COLLECTIONS_STATE": str(state), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{name} {action}:\n{done.stderr[-3000:]}"
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read()
    return json.loads(body) if body[:1] in (b"[", b"{") else body.decode()


def _poll(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def tracing(tmp_path: Path, missing_build: Callable[[str], NoReturn]) -> Iterator[dict[str, str]]:
    """Zipkin, then Jaeger forwarding to it; both stopped at the end."""
    if subprocess.run([str(LOCAL / "jaeger.sh"), "path"], capture_output=True).returncode != 0:
        missing_build("Jaeger not built: run deploy/local/jaeger.sh install (a few minutes, once)")
    state = tmp_path / "state"
    try:
        zipkin = _script("zipkin.sh", "start", state)
        jaeger = _script("jaeger.sh", "start", state, ZIPKIN_SPANS_URL=zipkin["ZIPKIN_SPANS_URL"])
        yield {**zipkin, **jaeger}
    finally:
        for name in ("jaeger.sh", "zipkin.sh"):
            subprocess.run(
                [str(LOCAL / name), "stop"], env={**os.environ, "COLLECTIONS_STATE": str(state)}, capture_output=True
            )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_one_payments_trace_across_the_four_services_is_visible_in_zipkins_ui(
    tracing: dict[str, str],
    kafka_bootstrap: str,
    create_pg_database: Callable[[str], str],
    render_page: Callable[..., Any],
    tmp_path: Path,
) -> None:
    config = unique_topics_config()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"topics": {k: config.topics.name(k) for k in TOPIC_KEYS}}))
    ports = {s: _free_port() for s in SERVICES}
    procs = {
        s: start_service_process(
            s,
            {
                "DATABASE_URL": create_pg_database(s),
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "COLLECTIONS_CONFIG": str(config_file),
                "PORT": str(ports[s]),
                "HOST": "127.0.0.1",
                "OTEL_EXPORTER_OTLP_ENDPOINT": tracing["OTEL_EXPORTER_OTLP_ENDPOINT"],
                "COLLECTIONS_TEST_LOG_DIR": str(tmp_path),
            },
        )
        for s in SERVICES
    }
    try:
        for s in SERVICES:
            _poll(f"{s} ready", functools.partial(_ready, ports[s]))
        account = "trace-ui-1"
        due = {"account_id": account, "due_id": "d1", "due_date": "2025-12-10", "amount_due_minor": 5000,
               "statement_balance_minor": 5000}  # fmt: skip
        paid = {"account_id": account, "payment_id": "p1", "amount_minor": 2000, "received_on": "2026-01-05"}
        await produce(kafka_bootstrap, config.topics.name("accounts"),
                      [make_envelope("account.opened", account_opened_data(account))])  # fmt: skip
        await produce(kafka_bootstrap, config.topics.name("billing"), [make_envelope("payment.due", due)])
        payment = make_envelope("payment.received", paid).model_copy(update={"traceparent": TRACEPARENT})
        await produce(kafka_bootstrap, config.topics.name("payments"), [payment])
        for s in SERVICES:  # what Prometheus does every 2 s under `make up`
            assert "collections_" in _get(f"http://127.0.0.1:{ports[s]}/metrics")

        api = tracing["ZIPKIN_UI_URL"].removesuffix("zipkin/")

        def services_in_trace() -> set[str] | None:
            try:
                spans = _get(f"{api}api/v2/trace/{TRACE_ID}")
            except OSError:  # 404 until the first span arrives
                return None
            names = {span["localEndpoint"]["serviceName"] for span in spans}
            return names if names >= {f"collections-{s}" for s in SERVICES} else None

        in_trace = _poll(f"trace {TRACE_ID} in Zipkin with spans from all four services", services_in_trace)
        page = await render_page(f"{tracing['ZIPKIN_UI_URL']}traces/{TRACE_ID}", wait_for="text=collections-legal")
        page.assert_clean()
        for s in SERVICES:
            assert f"collections-{s}" in page.text, page.text[:2000]
        assert "process payment.received" in page.text or "payment.received" in page.text, page.text[:2000]
        for service in in_trace:
            names = _get(f"{api}api/v2/spans?serviceName={service}")
            probes = [n for n in names if "/metrics" in n or "/ready" in n or n.startswith("fastapi.")]
            assert not probes, (service, names)
    finally:
        for proc in procs.values():
            stop_service_process(proc)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
