"""Tracing and logging setup shared by every service (issue 2, point 5).

- The W3C `traceparent` travels in Kafka headers and in each outbox row, so a consumer's span
  continues its producer's trace (OpenTelemetry SDK, W3C TraceContext propagator).
- Logs are structlog JSON lines carrying trace_id and span_id. Personal data never reaches a log:
  the redaction processor drops known personal keys and masks phone numbers and email addresses
  anywhere in a value.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_OUR_HANDLER = "_collections_json_handler"
PERSONAL_KEYS = frozenset(
    {"phones", "emails", "email", "phone", "number", "name", "postal_address", "destination", "contacts"}
)
_EMAIL = re.compile(r"[^\s@\"']+@[^\s@\"']+\.[^\s@\"']+")
# E.164 numbers (the contract's phone format); dates and timestamps must not look like phones.
_PHONE = re.compile(r"\+[1-9]\d{6,14}")


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, or None when no span is recording."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    """An OpenTelemetry context whose parent is `traceparent` (empty context when None)."""
    if not traceparent:
        return otel_context.Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextmanager
def consumer_span(service: str, event_type: str, event_id: str, traceparent: str | None, topic: str) -> Iterator[Span]:
    """A `process` span continuing the producer's trace, around one event's transaction.

    Without a tracer provider (the embedded default, or no OTLP endpoint) it yields the invalid
    span at once: the no-op span would cost the same context work per event and record nothing.
    """
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        yield trace.INVALID_SPAN
        return
    tracer = trace.get_tracer(f"collections.{service}")
    with tracer.start_as_current_span(
        f"process {event_type}",
        context=context_from_traceparent(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "cloudevents.event_type": event_type,
        },
    ) as span:
        yield span


def setup_tracing(service: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install a tracer provider for `service`.

    The exporter is the one given, else OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, else none
    (no provider: spans are not recorded and no traceparent is made up).
    """
    if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"collections-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def redact(value: Any) -> Any:
    """`value` with personal data removed: personal keys dropped, phones and emails masked."""
    if isinstance(value, Mapping):
        return {k: ("[redacted]" if k in PERSONAL_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _PHONE.sub("[phone]", _EMAIL.sub("[email]", value))
    return value


def _redact_processor(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: ("[redacted]" if k in PERSONAL_KEYS else redact(v)) for k, v in event_dict.items()}


def _trace_ids(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was set up (a test runner
    swaps it and closes the old one; a process that redirects it later keeps its logs)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def setup_logging(level: str | None = None, stream: Any = None) -> None:
    """JSON logs to stderr (or `stream`), with contextvars, trace ids and redaction.

    Libraries' standard-library logs (uvicorn, alembic, SQLAlchemy, aiokafka) go through the same
    processors, redaction included: one JSON line per record, never a plain line with personal data.
    """
    level_name = (level or os.environ.get("LOG_LEVEL", "INFO")).upper()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
    ]
    handler = logging.StreamHandler(stream or _CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _redact_processor,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    # Replace only the handler this function installed before (a test's capture handler stays).
    root.handlers[:] = [h for h in root.handlers if not getattr(h, _OUR_HANDLER, False)]
    setattr(handler, _OUR_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(level_name)
    structlog.configure(
        processors=[
            *shared,
            _redact_processor,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
