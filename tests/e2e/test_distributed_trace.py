"""One trace across the four service processes (issue 6): a `payment.due` published with a
`traceparent` leads to spans in ledger, delinquency, outreach and legal under that trace id.

Each service is its own OS process, exporting spans by OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT) to
a small receiver this test runs on 127.0.0.1, which decodes each `ExportTraceServiceRequest`.

The input makes the due's consequences travel the whole chain, not just reach each service: the
account's business date 2026-01-20 has already closed when the due arrives, dated 2026-01-10 and
unpaid. So ledger's `balance_changed` (carrying the trace) makes delinquency publish a
`bucket_changed` as of the last close at once (10 dpd, behaviour.md: on `ledger.balance_changed`),
outreach evaluates the new episode as of that close at once and asks for contacts, and legal
folds outreach's `contact_recorded` trail. The test asserts those very spans:
ledger `process payment.due`, delinquency `process ledger.balance_changed`, outreach
`process delinquency.bucket_changed`, legal `process outreach.contact_recorded`, all in the trace,
and the traceparent on the wire of the contact requests.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collections_events.registry import EVENT_TYPES
from collections_events.testing import account_opened_data, make_envelope, produce
from collections_events.transport.kafka import decode_record
from collections_events.validation import Event
from collections_platform.distributed import read_published

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
EXPECTED_SPANS = {
    "collections-ledger": "process payment.due",
    "collections-delinquency": "process ledger.balance_changed",
    "collections-outreach": "process delinquency.bucket_changed",
    "collections-legal": "process outreach.contact_recorded",
}


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """An OTLP/HTTP trace receiver on 127.0.0.1: yields (endpoint, spans as (service, trace id, name))."""
    spans: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
            with lock:
                for resource_spans in request.resource_spans:
                    service = next(
                        (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                        "?",
                    )
                    for scope_spans in resource_spans.scope_spans:
                        spans.extend((service, s.trace_id.hex(), s.name) for s in scope_spans.spans)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()
        server.server_close()


async def test_a_due_with_a_traceparent_leads_to_spans_in_all_four_services(
    distributed_platform: Callable[..., Any],
) -> None:
    with otlp_receiver() as (endpoint, spans):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        platform = distributed_platform({}, env)
        await platform.start()
        opened = account_opened_data(
            "T1",
            product="credit_card",
            currency="USD",
            opened_on="2025-11-03",
            timezone="America/New_York",
            locale="en-US",
            contacts={"phones": [{"number": "+12025550123", "kind": "mobile"}], "emails": ["t1@example.com"]},
        )
        due = {
            "account_id": "T1",
            "due_id": "T1-D1",
            "due_date": "2026-01-10",
            "amount_due_minor": 4200,
            "statement_balance_minor": 42000,
        }
        first = [
            make_envelope("account.opened", opened, event_id="trace-open", time="2025-11-03T15:00:00Z"),
            make_envelope("day.closed", {"as_of": "2026-01-20"}, event_id="trace-close", time="2026-01-20T23:30:00Z"),
        ]
        traced = make_envelope("payment.due", due, event_id="trace-due", time="2026-01-21T09:00:00Z")
        traced = traced.model_copy(update={"traceparent": TRACEPARENT})
        topic = platform.config.topics.name
        async with platform.settler() as settler:
            for envelope in first:
                await produce(platform.bootstrap, topic(EVENT_TYPES[envelope.type].topic), [envelope])
                await platform.settle(settler)
            await produce(platform.bootstrap, topic("billing"), [traced])
            await platform.settle(settler)

        deadline = time.monotonic() + 60
        while True:
            in_trace = {(service, name) for service, trace_id, name in list(spans) if trace_id == TRACE_ID}
            if all(item in in_trace for item in EXPECTED_SPANS.items()):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"spans in the trace so far: {sorted(in_trace)}")
            await asyncio.sleep(0.2)

    assert {service for service, _ in in_trace} >= set(EXPECTED_SPANS)
    requests = []
    for record in await read_published(platform.bootstrap, platform.config):
        parsed = decode_record(record)
        assert isinstance(parsed, Event)
        if parsed.type == "outreach.contact_requested":
            requests.append(parsed.envelope)
    assert requests, "the due past a closed date should start an episode and ask for contacts"
    assert all(r.traceparent and r.traceparent.split("-")[1] == TRACE_ID for r in requests)
