"""Prometheus metrics for every service, through the OpenTelemetry metrics SDK (issue 8, point 4).

One `PlatformMetrics` per process, made by `setup_metrics(service)`; `/metrics` serves its registry
(`add_metrics_route(app)`). Names follow OpenTelemetry's messaging semantic conventions where they
exist (`messaging.process.duration`, `messaging.client.consumed.messages`,
`messaging.client.sent.messages`, `messaging.client.operation.duration`), the platform's own are
`collections.*`. The Prometheus exporter turns dots into underscores, appends the unit (`_seconds`)
and `_total` to counters; `PROMETHEUS_NAMES` lists the exported names that dashboards and alert rules
may use (tests/deploy checks them). Every series carries `service_name` (`collections-<service>`).

Attributes are low-cardinality on purpose: topic, partition, consumer group, event type, outcome,
channel, reason, agency (a lender has a handful). Never an account id or anything personal.

Where the runtime calls what (`m = setup_metrics(spec.name)` at process start; `add_metrics_route(app)`
in `api.service_app`):
- consumer, per message, after its transaction committed or failed: `m.message_consumed(...)` with an
  outcome of OUTCOMES, and `m.message_processed(seconds, ..., error_type=type(exc).__name__)` timing
  inbox + handler + commit; a `day.closed` also `m.day_closed(seconds)`;
- consumer, after each fetch, per assigned partition: `m.set_consumer_lag(highwater - position, ...)`;
- dead-letter path: `m.message_dead_lettered(topic=<source topic>, reason="unreadable"|"handler_failed")`;
- after a unit of work commits, per emitted envelope: `m.event_emitted(envelope.type, envelope.data)`
  (contacts, suppressions, promises, arrangements, cases, bucket changes, rejections all follow);
- relay, per send: `m.message_sent(topic=, event_type=, seconds=, error_type=)`; per poll:
  `m.set_outbox(unsent_rows, now - oldest unsent row's insertion time)` (wall clock of the insert, not
  the event's `time`, which is the cause's business instant);
- delinquency after a close: `m.set_accounts_in_bucket({bucket: count})` (optional, one GROUP BY);
- outreach app layer when it evaluates a call step: `m.call_cap_checked(calls_in_window, cap.calls)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, get_args

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import Counter, Histogram, Meter
from opentelemetry.metrics import _Gauge as Gauge  # the SDK names its synchronous gauge privately
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from collections_events.outbound import ConductRule

MESSAGING_SYSTEM = "kafka"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Seconds; the boundaries OpenTelemetry's messaging conventions advise for durations."""
DAY_CLOSE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
"""Seconds; a day close handles every account that changes bucket that day, so it may take minutes."""
CALL_CAP_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 14)
"""Calls already in the cap's window when a call step is evaluated."""

OUTCOMES = ("processed", "duplicate", "ignored", "rejected", "dead_lettered", "failed")
"""Values of `collections.outcome` on consumed messages: handled and committed; already in the inbox;
not a type this service wants; invalid (system.event_rejected); copied to `<topic>.dlq`; the
transaction failed (it will be retried)."""

PROMETHEUS_NAMES = frozenset(
    {
        "messaging_client_consumed_messages_total",
        "messaging_client_sent_messages_total",
        "messaging_process_duration_seconds",
        "messaging_client_operation_duration_seconds",
        "collections_consumer_lag",
        "collections_outbox_backlog",
        "collections_outbox_oldest_age_seconds",
        "collections_dead_lettered_total",
        "collections_rejected_total",
        "collections_bucket_transitions_total",
        "collections_conduct_breaches_total",
        "collections_agency_contacts_total",
        "collections_placements_total",
        "collections_accounts_in_bucket",
        "collections_charge_offs_total",
        "collections_contacts_requested_total",
        "collections_contacts_suppressed_total",
        "collections_contact_results_total",
        "collections_promises_total",
        "collections_arrangements_total",
        "collections_cases_total",
        "collections_day_close_duration_seconds",
        "collections_call_cap_usage",
        "collections_call_cap_limit",
    }
)
"""Every metric family name this module exports (histograms also give `_bucket`, `_sum`, `_count`)."""

_ARRANGEMENT_EVENTS = {
    "outreach.arrangement_made": "made",
    "outreach.arrangement_declined": "declined",
    "outreach.arrangement_broken": "broken",
    "outreach.arrangement_completed": "completed",
}
_PROMISE_EVENTS = {
    "outreach.promise_recorded": "recorded",
    "outreach.promise_kept": "kept",
    "outreach.promise_broken": "broken",
}


class _Instrument(NamedTuple):
    """One instrument of `PlatformMetrics`: the attribute it is stored as, and how it is created.

    Attributes (labels) are given per measurement by the methods below, not declared here.
    """

    attribute: str
    kind: Literal["counter", "histogram", "gauge"]
    name: str
    unit: str
    description: str
    buckets: Sequence[float] | None = None


# One instrument a row, its description on the next line.
# fmt: off
INSTRUMENTS: tuple[_Instrument, ...] = (
    # OpenTelemetry messaging conventions.
    _Instrument("consumed", "counter", "messaging.client.consumed.messages", "{message}",
                "Messages the consumer handed to the handler"),
    _Instrument("sent", "counter", "messaging.client.sent.messages", "{message}",
                "Messages the outbox relay sent to Kafka"),
    _Instrument("process_duration", "histogram", "messaging.process.duration", "s",
                "Handling one message: inbox, handler and commit, in one transaction", DURATION_BUCKETS),
    _Instrument("operation_duration", "histogram", "messaging.client.operation.duration", "s",
                "One send of the outbox relay, until Kafka acknowledged it", DURATION_BUCKETS),
    # The platform's own.
    _Instrument("consumer_lag", "gauge", "collections.consumer.lag", "{message}",
                "Log end offset minus the committed position, per partition"),
    _Instrument("outbox_backlog", "gauge", "collections.outbox.backlog", "{row}",
                "Outbox rows not yet sent"),
    _Instrument("outbox_oldest_age", "gauge", "collections.outbox.oldest_age", "s",
                "Age of the oldest unsent outbox row (0 when empty)"),
    _Instrument("dead_lettered", "counter", "collections.dead_lettered", "{message}",
                "Messages copied to <topic>.dlq"),
    _Instrument("rejected", "counter", "collections.rejected", "{event}",
                "system.event_rejected published, by reason class"),
    _Instrument("bucket_transitions", "counter", "collections.bucket_transitions", "{account}",
                "delinquency.bucket_changed, by from and to bucket"),
    _Instrument("accounts_in_bucket", "gauge", "collections.accounts_in_bucket", "{account}",
                "Accounts per bucket after the last day close"),
    _Instrument("charge_offs", "counter", "collections.charge_offs", "{account}",
                "delinquency.charged_off published"),
    _Instrument("contacts_requested", "counter", "collections.contacts.requested", "{contact}",
                "outreach.contact_requested, by channel"),
    _Instrument("contacts_suppressed", "counter", "collections.contacts.suppressed", "{contact}",
                "outreach.contact_suppressed, by channel and reason"),
    _Instrument("contact_results", "counter", "collections.contact_results", "{result}",
                "Contact results recorded, by channel and outcome"),
    _Instrument("promises", "counter", "collections.promises", "{promise}",
                "Promises to pay, by outcome (recorded, kept, broken)"),
    _Instrument("arrangements", "counter", "collections.arrangements", "{arrangement}",
                "Arrangements, by event (made, declined, broken, completed)"),
    _Instrument("cases", "counter", "collections.cases", "{case}",
                "Legal cases, by event (opened, closed) and reason"),
    _Instrument("conduct_breaches", "counter", "collections.conduct_breaches", "{breach}",
                "outreach.conduct_breach, by agency and rule"),
    _Instrument("agency_contacts", "counter", "collections.agency_contacts", "{contact}",
                "Agencies' contact results recorded on the trail, by agency and channel"),
    _Instrument("placements", "counter", "collections.placements", "{placement}",
                "Placements with agencies, by agency, event (placed, recalled) and recall reason"),
    _Instrument("day_close_duration", "histogram", "collections.day_close.duration", "s",
                "Handling one day.closed in this service, from receipt to commit", DAY_CLOSE_BUCKETS),
    _Instrument("call_cap_usage", "histogram", "collections.call_cap.usage", "{call}",
                "Call requests already in the cap's window when a call step was evaluated", CALL_CAP_BUCKETS),
    _Instrument("call_cap_limit", "gauge", "collections.call_cap.limit", "{call}",
                "outreach.call_cap.calls in force"),
)
# fmt: on
"""Every instrument, in creation order; `PlatformMetrics` declares each `attribute` with its type."""


def _create(meter: Meter, instrument: _Instrument) -> Counter | Histogram | Gauge:
    name, unit, description = instrument.name, instrument.unit, instrument.description
    if instrument.kind == "counter":
        return meter.create_counter(name, unit=unit, description=description)
    if instrument.kind == "histogram":
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=instrument.buckets
        )
    return meter.create_gauge(name, unit=unit, description=description)


class PlatformMetrics:
    """The instruments of one service process and the registry `/metrics` serves.

    Methods are cheap and never raise for a metric's sake; durations are seconds (float).
    """

    consumed: Counter
    sent: Counter
    process_duration: Histogram
    operation_duration: Histogram
    consumer_lag: Gauge
    outbox_backlog: Gauge
    outbox_oldest_age: Gauge
    dead_lettered: Counter
    rejected: Counter
    bucket_transitions: Counter
    accounts_in_bucket: Gauge
    charge_offs: Counter
    contacts_requested: Counter
    contacts_suppressed: Counter
    contact_results: Counter
    promises: Counter
    arrangements: Counter
    cases: Counter
    conduct_breaches: Counter
    agency_contacts: Counter
    placements: Counter
    day_close_duration: Histogram
    call_cap_usage: Histogram
    call_cap_limit: Gauge

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry if registry is not None else CollectorRegistry()
        self._reader = PrometheusMetricReader(
            disable_target_info=True,
            scope_info_enabled=False,
            resource_attribute_filter=lambda key: key == "service.name",
            registry=self.registry,
        )
        self.provider = MeterProvider(
            metric_readers=[self._reader],
            resource=Resource.create({"service.name": f"collections-{service}"}),
        )
        meter = self.provider.get_meter("collections_events.metrics")
        for instrument in INSTRUMENTS:
            setattr(self, instrument.attribute, _create(meter, instrument))

    # -- consumer -------------------------------------------------------------------------------
    def message_consumed(
        self, *, topic: str, partition: int, group: str, event_type: str | None, outcome: str, count: int = 1
    ) -> None:
        """`count` messages (one by default) read from `topic` have reached `outcome` (one of OUTCOMES)."""
        self.consumed.add(
            count,
            {
                "messaging.system": MESSAGING_SYSTEM,
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(partition),
                "messaging.consumer.group.name": group,
                "cloudevents.event_type": event_type or "unreadable",
                "collections.outcome": outcome,
            },
        )

    def message_processed(
        self, seconds: float, *, topic: str, group: str, event_type: str | None, error_type: str | None = None
    ) -> None:
        """The handling of one message took `seconds` (inbox + handler + commit); `error_type` if it failed."""
        attributes = {
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "cloudevents.event_type": event_type or "unreadable",
        }
        if error_type:
            attributes["error.type"] = error_type
        self.process_duration.record(seconds, attributes)

    def set_consumer_lag(self, lag: int, *, topic: str, partition: int, group: str) -> None:
        """Messages behind on one partition: highwater (log end offset) minus the consumer's position."""
        self.consumer_lag.set(
            max(lag, 0),
            {
                "messaging.system": MESSAGING_SYSTEM,
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(partition),
                "messaging.consumer.group.name": group,
            },
        )

    def message_dead_lettered(self, *, topic: str, reason: str) -> None:
        """One message was copied to `<topic>.dlq`; `reason` is a short class (`unreadable`, `handler_failed`)."""
        self.dead_lettered.add(1, {"messaging.destination.name": topic, "collections.reason": reason})

    # -- outbox relay ---------------------------------------------------------------------------
    def message_sent(
        self,
        *,
        topic: str,
        event_type: str,
        seconds: float | None = None,
        error_type: str | None = None,
        count: int = 1,
    ) -> None:
        """The publisher sent `count` outbox rows of one type to `topic` (or failed to, with `error_type`)."""
        attributes = {
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "cloudevents.event_type": event_type,
        }
        if error_type:
            attributes["error.type"] = error_type
        self.sent.add(count, attributes)
        if seconds is not None:
            self.operation_duration.record(seconds, attributes)

    def set_outbox(self, backlog: int, oldest_age_seconds: float) -> None:
        """Unsent outbox rows and the age of the oldest (0 when there is none), read by the relay."""
        self.outbox_backlog.set(backlog)
        self.outbox_oldest_age.set(max(oldest_age_seconds, 0.0))

    def expect_agencies(self, agency_ids: Sequence[str]) -> None:
        """Start the agency series at 0 for each configured agency, so that dashboards and the
        breach-rate alert see a zero, not a missing series, before the first agency contact
        (Prometheus's advice: initialise the label sets you know)."""
        for agency in agency_ids:
            for rule in get_args(ConductRule):
                self.conduct_breaches.add(0, {"agency_id": agency, "rule": rule})
            self.agency_contacts.add(0, {"agency_id": agency, "channel": "call"})
            self.placements.add(0, {"agency_id": agency, "event": "placed", "reason": "placement"})

    # -- business flow --------------------------------------------------------------------------
    def event_emitted(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Count the business meaning of one event this service committed to its outbox.

        Call once per emitted envelope after the unit of work commits (a rolled-back transaction
        counts nothing; the inbox keeps a redelivery from emitting twice).
        """
        if event_type == "delinquency.bucket_changed":
            self.bucket_transitions.add(
                1, {"from_bucket": str(data.get("from_bucket")), "to_bucket": str(data.get("to_bucket"))}
            )
        elif event_type == "delinquency.charged_off":
            self.charge_offs.add(1)
        elif event_type == "outreach.contact_requested":
            self.contacts_requested.add(1, {"channel": str(data.get("channel"))})
        elif event_type == "outreach.contact_suppressed":
            self.contacts_suppressed.add(1, {"channel": str(data.get("channel")), "reason": str(data.get("reason"))})
        elif event_type == "outreach.contact_recorded" and data.get("kind") == "result":
            self.contact_results.add(1, {"channel": str(data.get("channel")), "outcome": str(data.get("outcome"))})
            if data.get("agency_id"):
                self.agency_contacts.add(1, {"agency_id": str(data["agency_id"]), "channel": str(data.get("channel"))})
        elif event_type == "outreach.conduct_breach":
            self.conduct_breaches.add(1, {"agency_id": str(data.get("agency_id")), "rule": str(data.get("rule"))})
        elif event_type == "legal.account_placed":
            self.placements.add(1, {"agency_id": str(data.get("agency_id")), "event": "placed", "reason": "placement"})
        elif event_type == "legal.placement_recalled":
            agency = str(data.get("agency_id"))
            self.placements.add(1, {"agency_id": agency, "event": "recalled", "reason": str(data.get("reason"))})
        elif event_type in _PROMISE_EVENTS:
            self.promises.add(1, {"outcome": _PROMISE_EVENTS[event_type]})
        elif event_type in _ARRANGEMENT_EVENTS:
            attributes = {"event": _ARRANGEMENT_EVENTS[event_type]}
            if event_type == "outreach.arrangement_declined":
                attributes["reason"] = str(data.get("reason"))
            self.arrangements.add(1, attributes)
        elif event_type == "legal.case_opened":
            self.cases.add(1, {"event": "opened", "reason": "referral"})
        elif event_type == "legal.case_closed":
            self.cases.add(1, {"event": "closed", "reason": str(data.get("reason"))})
        elif event_type == "system.event_rejected":
            self.rejected.add(1, {"cloudevents.event_type": str(data.get("type") or "unreadable")})

    def set_accounts_in_bucket(self, counts: Mapping[str, int]) -> None:
        """Accounts per bucket as of the last day close (delinquency, after each close)."""
        for bucket, count in counts.items():
            self.accounts_in_bucket.set(count, {"bucket": bucket})

    def day_closed(self, seconds: float) -> None:
        """This service handled one `day.closed` in `seconds`."""
        self.day_close_duration.record(seconds)

    def call_cap_checked(self, calls_in_window: int, limit: int) -> None:
        """Outreach evaluated a call step: `calls_in_window` requests already count against `limit`."""
        self.call_cap_usage.record(calls_in_window)
        self.call_cap_limit.set(limit)

    # -- exposition -----------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The Prometheus text exposition of every instrument (what GET /metrics returns)."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        """Stop the meter provider (tests; a service process just exits)."""
        self.provider.shutdown()


_current: PlatformMetrics | None = None


def setup_metrics(service: str, registry: CollectorRegistry | None = None) -> PlatformMetrics:
    """Make the process's metrics for `service` (`ledger`, ...) and make them current.

    Call once at process start, before the runtime; a second call for the same service returns the
    same object. `registry` defaults to a fresh one (not prometheus_client's global registry).
    """
    global _current
    if _current is not None and _current.service == service and registry is None:
        return _current
    _current = PlatformMetrics(service, registry)
    return _current


def get_metrics() -> PlatformMetrics:
    """The process's current metrics; before `setup_metrics` a private set that nobody scrapes."""
    global _current
    if _current is None:
        _current = PlatformMetrics("unconfigured")
    return _current


def add_metrics_route(app: Any, metrics: PlatformMetrics | None = None) -> None:
    """Add `GET /metrics` (Prometheus text format) to a FastAPI/Starlette `app`.

    With no `metrics`, the route serves whatever `get_metrics()` returns at request time.
    """
    from starlette.requests import Request
    from starlette.responses import Response

    async def prometheus_metrics(_request: Request) -> Response:
        source = metrics if metrics is not None else get_metrics()
        return Response(source.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False)
