"""Metrics, dashboards and alert rules agree (deploy/dashboards, deploy/prometheus, metrics.py).

Every metric and label that a dashboard panel or an alert rule uses must be one that
collections_events.metrics really exports: the test drives every instrument once, reads the
Prometheus exposition, and compares. promtool checks the rules' syntax.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from collections_events.metrics import PROMETHEUS_NAMES, PlatformMetrics, add_metrics_route, setup_metrics
from collections_events.testing import import_file

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "dashboards"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile", "clamp_min",
    "clamp_max", "by", "without", "and", "or", "unless", "on", "ignoring", "label_values", "abs", "topk",
}  # fmt: skip


def exercised() -> PlatformMetrics:
    """A PlatformMetrics with every instrument recorded once, every optional label set."""
    m = PlatformMetrics("ledger", CollectorRegistry())
    m.message_consumed(
        topic="lender.billing.v1",
        partition=0,
        group="collections-ledger",
        event_type="payment.due",
        outcome="processed",
    )
    m.message_processed(
        0.01, topic="lender.billing.v1", group="collections-ledger", event_type="payment.due", error_type="Timeout"
    )
    m.set_consumer_lag(3, topic="lender.billing.v1", partition=0, group="collections-ledger")
    m.message_dead_lettered(topic="lender.billing.v1", reason="unreadable")
    m.message_sent(
        topic="collections.ledger.v1",
        event_type="ledger.balance_changed",
        seconds=0.002,
        error_type="KafkaTimeoutError",
    )
    m.set_outbox(2, 1.5)
    events: list[tuple[str, dict[str, Any]]] = [
        ("delinquency.bucket_changed", {"from_bucket": "current", "to_bucket": "1-29"}),
        ("delinquency.charged_off", {}),
        ("outreach.contact_requested", {"channel": "sms"}),
        ("outreach.contact_suppressed", {"channel": "call", "reason": "frequency_cap"}),
        ("outreach.contact_recorded", {"kind": "result", "channel": "call", "outcome": "answered_rpc"}),
        ("outreach.contact_recorded", {"kind": "result", "channel": "call", "outcome": "busy", "agency_id": "north"}),
        ("outreach.conduct_breach", {"agency_id": "north", "rule": "outside_window"}),
        ("legal.account_placed", {"agency_id": "north"}),
        ("legal.placement_recalled", {"agency_id": "north", "reason": "expired"}),
        ("outreach.promise_kept", {}),
        ("outreach.arrangement_declined", {"reason": "not_delinquent"}),
        ("legal.case_closed", {"reason": "cured"}),
        ("system.event_rejected", {"type": "payment.due"}),
    ]
    for event_type, data in events:
        m.event_emitted(event_type, data)
    m.set_accounts_in_bucket({"current": 10, "1-29": 2})
    m.day_closed(4.2)
    m.call_cap_checked(3, 7)
    return m


@pytest.fixture(scope="module")
def exposition() -> dict[str, set[str]]:
    """Exported family name -> its label names (histograms as their base name)."""
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exercised().exposition().decode()):
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        families.setdefault(name, set()).update(labels)
    return families


def test_every_metric_is_exported_under_its_documented_name(exposition: dict[str, set[str]]) -> None:
    assert set(exposition) == set(PROMETHEUS_NAMES)
    assert all("service_name" in labels for labels in exposition.values())


def test_business_events_are_counted_with_their_labels() -> None:
    text = exercised().exposition().decode()
    labels = 'channel="call",reason="frequency_cap",service_name="collections-ledger"'
    assert f"collections_contacts_suppressed_total{{{labels}}} 1.0" in text
    assert 'collections_cases_total{event="closed",reason="cured",service_name="collections-ledger"} 1.0' in text
    assert 'collections_promises_total{outcome="kept",service_name="collections-ledger"} 1.0' in text


def test_setup_metrics_is_once_per_process() -> None:
    first = setup_metrics("outreach")
    assert setup_metrics("outreach") is first


async def test_metrics_route_serves_the_exposition() -> None:
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient

    app = FastAPI()
    metrics = exercised()
    add_metrics_route(app, metrics)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "collections_outbox_backlog" in response.text


# -- what dashboards and rules use -----------------------------------------------------------------
def _dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            out += [(f"{path.name}: {panel['title']}", t["expr"]) for t in panel.get("targets", [])]
        for var in board["templating"]["list"]:
            if var.get("definition"):
                out.append((f"{path.name}: ${var['name']}", var["definition"]))
    return out


def _rule_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [(f"alerts.yml: {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]


def metrics_in(expr: str, known: frozenset[str] = PROMETHEUS_NAMES) -> set[str]:
    """Metric families in a PromQL expression (label matchers, groupings and strings removed); a
    histogram's `_bucket`/`_sum`/`_count` series count as its family unless the name is itself known."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"label_values\(([^,]+),[^)]*\)", r"\1", bare)
    bare = re.sub(r"(?<![\w.])\d+(\.\d+)?([eE][-+]?\d+)?", "", bare)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - _FUNCTIONS
    return {n if n in known else re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def labels_in(expr: str) -> set[str]:
    """Label names an expression groups by or matches on."""
    labels: set[str] = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in group.split(",") if x.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", re.sub(r'"[^"]*"', '""', expr)):
        labels |= {m.group(1) for m in re.finditer(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers)}
    labels |= set(re.findall(r"label_values\([^,]+,\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", expr))
    return labels - {"le"}


def test_the_expression_parser_finds_metrics_and_labels() -> None:
    series = 'messaging_process_duration_seconds_bucket{service_name=~"$service"}'
    expr = f"histogram_quantile(0.9, sum by (service_name, le) (rate({series}[5m])))"
    assert metrics_in(expr) == {"messaging_process_duration_seconds"}
    assert labels_in(expr) == {"service_name"}


@pytest.mark.parametrize(("where", "expr"), _dashboard_exprs() + _rule_exprs(), ids=lambda v: str(v)[:60])
def test_every_panel_and_rule_uses_exported_metrics_and_labels(
    exposition: dict[str, set[str]], where: str, expr: str
) -> None:
    used = metrics_in(expr)
    assert used, f"{where}: no metric found in {expr!r}"
    unknown = used - set(exposition)
    assert not unknown, f"{where}: {sorted(unknown)} is not exported by collections_events.metrics"
    available = set().union(*(exposition[m] for m in used))
    missing = labels_in(expr) - available
    assert not missing, f"{where}: labels {sorted(missing)} are not on {sorted(used)}"


def test_dashboards_are_what_the_builder_writes() -> None:
    module = import_file(DASHBOARDS / "build.py", "deploy_dashboards_build")
    for name, text in module.render().items():
        assert (DASHBOARDS / name).read_text() == text, f"run: python deploy/dashboards/build.py ({name})"


def test_dashboards_cover_the_flow_the_services_and_compliance() -> None:
    titles = {json.loads(p.read_text())["uid"] for p in DASHBOARDS.glob("*.json")}
    assert titles == {"collections-flow", "collections-services", "collections-compliance"}
    flow = json.dumps(json.loads((DASHBOARDS / "collections-flow.json").read_text()))
    for metric in (
        "payment.due",
        "collections_bucket_transitions_total",
        "collections_contacts_requested_total",
        "collections_cases_total",
    ):
        assert metric in flow


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        subprocess.run([str(ROOT / "deploy" / "local" / "prometheus.sh"), "install"], check=True, timeout=600)
        found = shutil.which("promtool")
    assert found, "promtool (Debian's prometheus package) is needed"
    return found


def test_alert_rules_pass_promtool(promtool: str) -> None:
    done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


def test_a_broken_rule_fails_promtool(promtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(ALERTS.read_text().replace("> 1000", "> > 1000", 1))
    done = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
