# ruff: noqa: E501  (PromQL queries read best on one line)
"""Grafana dashboards as code: `python deploy/dashboards/build.py` rewrites the JSON files beside it.

Plain dictionaries in Grafana's dashboard JSON model (schemaVersion 39), one Prometheus datasource
variable `datasource`. tests/deploy checks that the committed JSON is what this script writes and that
every metric a panel queries is one collections_events.metrics exports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def panel(
    title: str,
    queries: list[tuple[str, str]],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    description: str = "",
    stack: bool = False,
) -> dict[str, Any]:
    """One panel; `queries` are (PromQL, legend) pairs."""
    custom: dict[str, Any] = {}
    if kind == "timeseries":
        custom = {
            "drawStyle": "line",
            "fillOpacity": 20 if stack else 5,
            "stacking": {"mode": "normal" if stack else "none"},
        }
    if kind == "bargauge":
        custom = {}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"showLegend": True, "displayMode": "table", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}},
        "targets": [_target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(queries)],
    }


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"w": 24, "h": 1}, "panels": []}


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], *, service_var: bool = False
) -> dict[str, Any]:
    """A dashboard; panels are laid out left to right, top to bottom."""
    x = y = line_height = 0
    for i, p in enumerate(panels, start=1):
        p["id"] = i
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + line_height
            line_height = 0
        p["gridPos"].update(x=x, y=y)
        x, line_height = x + w, max(line_height, h)
        if x >= 24:
            x, y, line_height = 0, y + line_height, 0
    variables: list[dict[str, Any]] = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus", "current": {}}
    ]
    if service_var:
        variables.append(
            {
                "name": "service",
                "type": "query",
                "datasource": DS,
                "query": {
                    "query": "label_values(messaging_client_consumed_messages_total, service_name)",
                    "refId": "service",
                },
                "definition": "label_values(messaging_client_consumed_messages_total, service_name)",
                "includeAll": True,
                "multi": True,
                "allValue": ".*",
                "refresh": 2,
                "current": {"text": "All", "value": "$__all"},
            }
        )
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["collections"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def flow() -> dict[str, Any]:
    ledger = 'service_name="collections-ledger",collections_outcome="processed"'
    return dashboard(
        "collections-flow",
        "Collections: the flow",
        "Dues → delinquency buckets → contacts → promises and arrangements → legal cases, per day.",
        [
            row("Money in"),
            panel(
                "Dues and payments applied per day",
                [
                    (
                        f'sum(increase(messaging_client_consumed_messages_total{{{ledger},cloudevents_event_type="payment.due"}}[1d]))',
                        "dues",
                    ),
                    (
                        f'sum(increase(messaging_client_consumed_messages_total{{{ledger},cloudevents_event_type="payment.received"}}[1d]))',
                        "payments",
                    ),
                    (
                        f'sum(increase(messaging_client_consumed_messages_total{{{ledger},cloudevents_event_type="payment.reversed"}}[1d]))',
                        "reversals",
                    ),
                ],
            ),
            panel(
                "Accounts per bucket (after the last day close)",
                [("sum by (bucket) (collections_accounts_in_bucket)", "{{bucket}}")],
                kind="bargauge",
            ),
            row("Delinquency"),
            panel(
                "Bucket changes per day, by bucket entered",
                [("sum by (to_bucket) (increase(collections_bucket_transitions_total[1d]))", "{{to_bucket}}")],
                stack=True,
            ),
            panel(
                "Roll into delinquency and cures per day",
                [
                    (
                        'sum(increase(collections_bucket_transitions_total{from_bucket=~"current|M0"}[1d]))',
                        "became delinquent",
                    ),
                    ('sum(increase(collections_bucket_transitions_total{to_bucket=~"current|M0"}[1d]))', "cured"),
                    ("sum(increase(collections_charge_offs_total[1d]))", "charged off"),
                ],
            ),
            row("Contact"),
            panel(
                "Contacts requested per day, by channel",
                [("sum by (channel) (increase(collections_contacts_requested_total[1d]))", "{{channel}}")],
                stack=True,
            ),
            panel(
                "Contact results per day, by outcome",
                [("sum by (outcome) (increase(collections_contact_results_total[1d]))", "{{outcome}}")],
                stack=True,
            ),
            panel(
                "Promises to pay per day",
                [("sum by (outcome) (increase(collections_promises_total[1d]))", "{{outcome}}")],
            ),
            panel(
                "Arrangements per day",
                [("sum by (event) (increase(collections_arrangements_total[1d]))", "{{event}}")],
            ),
            row("Legal"),
            panel(
                "Legal cases per day",
                [("sum by (event, reason) (increase(collections_cases_total[1d]))", "{{event}} {{reason}}")],
                width=24,
            ),
        ],
    )


def services() -> dict[str, Any]:
    sel = 'service_name=~"$service"'
    return dashboard(
        "collections-services",
        "Collections: services",
        "Per service: throughput, handling latency, consumer lag, dead letters, outbox.",
        [
            row("Throughput"),
            panel(
                "Messages consumed /s, by outcome",
                [
                    (
                        f"sum by (service_name, collections_outcome) (rate(messaging_client_consumed_messages_total{{{sel}}}[5m]))",
                        "{{service_name}} {{collections_outcome}}",
                    )
                ],
                unit="ops",
            ),
            panel(
                "Messages published /s, by type",
                [
                    (
                        f"sum by (service_name, cloudevents_event_type) (rate(messaging_client_sent_messages_total{{{sel}}}[5m]))",
                        "{{cloudevents_event_type}}",
                    )
                ],
                unit="ops",
            ),
            row("Latency"),
            panel(
                "Handling time (inbox + handler + commit)",
                [
                    (
                        f"histogram_quantile(0.5, sum by (service_name, le) (rate(messaging_process_duration_seconds_bucket{{{sel}}}[5m])))",
                        "p50 {{service_name}}",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (service_name, le) (rate(messaging_process_duration_seconds_bucket{{{sel}}}[5m])))",
                        "p99 {{service_name}}",
                    ),
                ],
                unit="s",
            ),
            panel(
                "Relay send time (until Kafka acknowledged)",
                [
                    (
                        f"histogram_quantile(0.99, sum by (service_name, le) (rate(messaging_client_operation_duration_seconds_bucket{{{sel}}}[5m])))",
                        "p99 {{service_name}}",
                    )
                ],
                unit="s",
            ),
            row("Lag"),
            panel(
                "Consumer lag per partition",
                [
                    (
                        f"sum by (messaging_consumer_group_name, messaging_destination_name, messaging_destination_partition_id) (collections_consumer_lag{{{sel}}})",
                        "{{messaging_destination_name}}[{{messaging_destination_partition_id}}]",
                    )
                ],
                width=16,
            ),
            panel(
                "Day close duration (p95)",
                [
                    (
                        f"histogram_quantile(0.95, sum by (service_name, le) (rate(collections_day_close_duration_seconds_bucket{{{sel}}}[1d])))",
                        "{{service_name}}",
                    )
                ],
                unit="s",
                width=8,
            ),
            row("Failures and outbox"),
            panel(
                "Dead-lettered per hour",
                [
                    (
                        f"sum by (service_name, messaging_destination_name, collections_reason) (increase(collections_dead_lettered_total{{{sel}}}[1h]))",
                        "{{messaging_destination_name}} {{collections_reason}}",
                    )
                ],
                width=8,
            ),
            panel(
                "Rejected per hour, by type",
                [
                    (
                        f"sum by (service_name, cloudevents_event_type) (increase(collections_rejected_total{{{sel}}}[1h]))",
                        "{{service_name}} {{cloudevents_event_type}}",
                    )
                ],
                width=8,
            ),
            panel(
                "Outbox backlog and oldest age",
                [
                    (f"max by (service_name) (collections_outbox_backlog{{{sel}}})", "rows {{service_name}}"),
                    (
                        f"max by (service_name) (collections_outbox_oldest_age_seconds{{{sel}}})",
                        "oldest s {{service_name}}",
                    ),
                ],
                width=8,
            ),
        ],
        service_var=True,
    )


def compliance() -> dict[str, Any]:
    return dashboard(
        "collections-compliance",
        "Collections: compliance",
        "What the platform refused to do and why; how close calls are to the call cap; how the agencies behave.",
        [
            panel(
                "Suppressed contacts per day, by reason",
                [("sum by (reason) (increase(collections_contacts_suppressed_total[1d]))", "{{reason}}")],
                stack=True,
            ),
            panel(
                "Suppressed contacts per day, by channel",
                [("sum by (channel) (increase(collections_contacts_suppressed_total[1d]))", "{{channel}}")],
                stack=True,
            ),
            panel(
                "Call-cap headroom (cap minus calls already in the window, p95 and max)",
                [
                    (
                        "max(collections_call_cap_limit) - histogram_quantile(0.95, sum by (le) (rate(collections_call_cap_usage_bucket[1d])))",
                        "headroom at p95",
                    ),
                    (
                        "max(collections_call_cap_limit) - histogram_quantile(1, sum by (le) (rate(collections_call_cap_usage_bucket[1d])))",
                        "headroom at worst",
                    ),
                ],
                description="outreach.call_cap.calls minus the call requests already counted in the cap's window when a call step is evaluated.",
            ),
            panel(
                "Call steps stopped by the cap",
                [
                    (
                        'sum(increase(collections_contacts_suppressed_total{reason="frequency_cap"}[1d])) / clamp_min(sum(increase(collections_contacts_requested_total{channel="call"}[1d])) + sum(increase(collections_contacts_suppressed_total{reason="frequency_cap"}[1d])), 1)',
                        "share capped",
                    )
                ],
                unit="percentunit",
            ),
            panel(
                "Legal and customer holds per day",
                [
                    (
                        'sum by (reason) (increase(collections_contacts_suppressed_total{reason=~"cease_and_desist|dispute|bankruptcy|deceased|legal_hold"}[1d]))',
                        "{{reason}}",
                    )
                ],
                stack=True,
            ),
            panel(
                "Consent and destination gaps per day",
                [
                    (
                        'sum by (channel, reason) (increase(collections_contacts_suppressed_total{reason=~"no_consent|no_destination|rpc_cooldown"}[1d]))',
                        "{{channel}} {{reason}}",
                    )
                ],
                stack=True,
            ),
            row("Agencies"),
            panel(
                "Agency conduct breaches per day, by agency and rule",
                [
                    (
                        "sum by (agency_id, rule) (increase(collections_conduct_breaches_total[1d]))",
                        "{{agency_id}} {{rule}}",
                    )
                ],
                stack=True,
                description="outreach.conduct_breach: a contact an agency reported broke a rule (behaviour.md, Agencies). Evidence, not a refusal.",
            ),
            panel(
                "Agency breach rate (breaches per contact reported, over a day)",
                [
                    (
                        "sum by (agency_id) (increase(collections_conduct_breaches_total[1d])) / clamp_min(sum by (agency_id) (increase(collections_agency_contacts_total[1d])), 1)",
                        "{{agency_id}}",
                    )
                ],
                unit="percentunit",
                description="Alerted on by CollectionsAgencyBreachRateHigh (deploy/prometheus/alerts.yml).",
            ),
            panel(
                "Agency contacts reported per day",
                [
                    (
                        "sum by (agency_id, channel) (increase(collections_agency_contacts_total[1d]))",
                        "{{agency_id}} {{channel}}",
                    )
                ],
                stack=True,
            ),
            panel(
                "Placements and recalls per day, by agency",
                [
                    (
                        "sum by (agency_id, event, reason) (increase(collections_placements_total[1d]))",
                        "{{agency_id}} {{event}} {{reason}}",
                    )
                ],
                stack=True,
            ),
        ],
    )


DASHBOARDS = {
    "collections-flow.json": flow,
    "collections-services.json": services,
    "collections-compliance.json": compliance,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(make(), indent=2, sort_keys=True) + "\n" for name, make in DASHBOARDS.items()}


def main() -> int:
    for name, text in render().items():
        (HERE / name).write_text(text)
        print(HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
