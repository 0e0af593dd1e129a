"""`make up` for real, then Prometheus and Jaeger read back (issue 8, "What it must show").

One module-scoped `make up` (deploy/local/up.sh) in a state folder and on API ports of its own, so it
never meets a developer's `make up` nor the test run's own Kafka and PostgreSQL. Its input:

- `collections run --no-serve --accounts 40 --days 50` records a simulated book (input.jsonl), published
  with `collections publish`. With the default seed it yields dues, payments, bucket changes, contacts
  by all channels, suppressions, promises (recorded and kept) and an arrangement, but no charge-off
  and no legal case (no account reaches 90 dpd in 50 days).
- Once every service has handled the book's last `day.closed` D: three accounts whose only due is
  200 days past due at D, the first one's `payment.due` carrying this test's own W3C `traceparent`.
  Its consequences travel the whole chain inside that trace (ledger `balance_changed` → delinquency
  `bucket_changed` to 180+ and `charged_off` as of D → outreach asks for contacts as of D → legal
  folds the trail), and one more `day.closed` opens legal cases (three accounts, not one, since the
  channel simulator may answer a reminder with a call back and a promise, which holds legal off).
  One invalid `payment.received` (a negative amount) exercises the rejection path
  (`system.event_rejected` and a dead letter).

Then every expression of every dashboard panel and alert rule is queried from Prometheus, and each
metric it uses must exist there; the flow metrics must be non-zero; and the trace is read back from
Jaeger's API with spans from all four services. Jaeger is built from source (a slim build, a few
minutes once, cached in ~/.cache/collections/jaeger; .ci/run builds it first). The `make up` here never
builds it (COLLECTIONS_BUILD_JAEGER=0): without the binary it starts without Jaeger and the trace test
skips, or in CI (CI=true or COLLECTIONS_REQUIRE_BUILDS=1) fails.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from collections_events.testing import import_file

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"
SERVICES = ("collections-ledger", "collections-delinquency", "collections-outreach", "collections-legal")
TRACE_ID = "5ee1c0ffee5ee1c0ffee5ee1c0ffee01"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
ACCOUNT = "obs-old-1"
OLD_ACCOUNTS = (ACCOUNT, "obs-old-2", "obs-old-3")
SETTLE_TIMEOUT_S = 60.0


def _observability_tests() -> Any:
    """tests/deploy/test_observability.py, for its PromQL parsing and the list of expressions."""
    return import_file(ROOT / "tests" / "deploy" / "test_observability.py", "deploy_observability_tests_for_make_up")


OBS = _observability_tests()
EXPRESSIONS: list[tuple[str, str]] = OBS._dashboard_exprs() + OBS._rule_exprs()


def _free_base_port() -> int:
    """A port P such that P..P+3 are all free on 127.0.0.1 now (up.sh puts the four APIs there)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + 4):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no four consecutive free ports found")


def _get(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _poll(what: str, check: Callable[[], Any], timeout: float = SETTLE_TIMEOUT_S) -> Any:
    """Call `check` until it returns something truthy (connection errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except OSError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(0.5)


def _line(event_type: str, event_id: str, subject: str, at: str, data: dict[str, Any], **extra: str) -> str:
    source = {
        "account.opened": "lender/accounts",
        "payment.due": "lender/billing",
        "payment.received": "lender/payments",
        "day.closed": "lender/end-of-day",
    }[event_type]
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": at,
        "datacontenttype": "application/json",
        **extra,
        "data": data,
    }
    return json.dumps(envelope) + "\n"


@dataclass
class MakeUp:
    env: dict[str, str]
    kafka: str
    prometheus: str
    jaeger: str | None
    zipkin: str | None
    work: Path
    timings: dict[str, float]

    def uv(self, *args: str) -> str:
        done = subprocess.run(
            ["uv", "run", "--frozen", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def publish(self, path: Path) -> None:
        self.uv("collections", "publish", "--bootstrap", self.kafka, str(path))

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = _get(f"{self.prometheus}/api/v1/query", {"query": expr})
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, expr: str) -> float:
        """The single value of a scalar-like query (0 when it has no series yet)."""
        result = self.query(expr)
        return sum(float(r["value"][1]) for r in result)

    def names(self) -> set[str]:
        return set(_get(f"{self.prometheus}/api/v1/label/__name__/values")["data"])


def _address(output: str, label: str) -> str:
    found = re.search(rf"^\s*{re.escape(label)}\s+(\S+)", output, re.MULTILINE)
    assert found, f"up.sh printed no {label!r}:\n{output}"
    return found.group(1)


@pytest.fixture(scope="module")
def make_up() -> Iterator[MakeUp]:
    """`deploy/local/up.sh` in a fresh state folder on free ports, the end-to-end input published and
    settled; `down.sh` (same environment) at the end whatever happened."""
    timings: dict[str, float] = {}
    # Not under pytest's tmp_path: its parent is private and PostgreSQL runs as an unprivileged user.
    work = Path(tempfile.mkdtemp(prefix="collections-make-up-"))
    state = work / "state"
    state.mkdir()
    os.chmod(work, 0o755)
    os.chmod(state, 0o755)
    env = {
        **os.environ,
        "COLLECTIONS_STATE": str(state),
        "COLLECTIONS_API_PORT": str(_free_base_port()),
        "COLLECTIONS_BUILD_JAEGER": "0",
    }
    env.pop("COLLECTIONS_CONFIG", None)
    t0 = time.monotonic()
    try:
        up = subprocess.run([str(LOCAL / "up.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, f"up.sh failed:\n{up.stdout}\n{up.stderr[-4000:]}"
        timings["up.sh"] = time.monotonic() - t0
        jaeger = _address(up.stdout, "Jaeger API")
        zipkin = _address(up.stdout, "Trace UI (Zipkin)")
        platform = MakeUp(
            env=env,
            kafka=_address(up.stdout, "Kafka bootstrap"),
            prometheus=_address(up.stdout, "Prometheus"),
            jaeger=jaeger if jaeger.startswith("http") else None,
            zipkin=zipkin if zipkin.startswith("http") else None,
            work=work,
            timings=timings,
        )
        assert platform.prometheus.startswith("http"), up.stdout
        try:
            _run_end_to_end(platform)
        except BaseException:
            for log in sorted((state / "run").glob("*.log")):
                print(f"--- {log.name} (tail)", *log.read_text(errors="replace").splitlines()[-15:], sep="\n")
            raise
        yield platform
    finally:
        t1 = time.monotonic()
        subprocess.run([str(LOCAL / "down.sh")], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)
        timings["down.sh"] = time.monotonic() - t1
        shutil.rmtree(work, ignore_errors=True)
        print("make up observability timings (s):", {k: round(v, 1) for k, v in timings.items()})


def _consumed(platform: MakeUp, service: str, event_type: str) -> float:
    return platform.value(
        f'sum(messaging_client_consumed_messages_total{{service_name="{service}",cloudevents_event_type="{event_type}"}})'
    )


def _run_end_to_end(platform: MakeUp) -> None:
    """Simulate, publish, add the traced account and the invalid event, close one more day; each step
    waits (polling Prometheus) until the services have handled the previous one."""
    t = time.monotonic()
    sim = platform.work / "sim"
    platform.uv("collections", "run", "--no-serve", "--accounts", "40", "--days", "50", "--state", str(sim))
    book = sim / "input.jsonl"
    closes = [json.loads(x)["data"]["as_of"] for x in book.read_text().splitlines() if '"day.closed"' in x]
    last_close = date.fromisoformat(max(closes))
    platform.timings["simulate"] = time.monotonic() - t

    t = time.monotonic()
    platform.publish(book)
    followers = ("collections-delinquency", "collections-outreach", "collections-legal")
    _poll(
        f"every follower to handle the book's {len(closes)} day closes",
        lambda: all(_consumed(platform, s, "day.closed") >= len(closes) for s in followers),
    )
    platform.timings["book settled"] = time.monotonic() - t

    # The old accounts: opened long ago, one due ~200 days before the last close D, unpaid. The first
    # one's due carries the trace. Several, because the channel simulator answers their reminders
    # like any customer's and one may call back and promise (then legal waits for that promise).
    t = time.monotonic()
    requested_before = platform.value("sum(collections_contacts_requested_total)")
    legal_types = ("outreach.contact_recorded", "delinquency.bucket_changed", "ledger.balance_changed")
    legal_before = {t: _consumed(platform, "collections-legal", t) for t in legal_types}
    due_date = last_close - timedelta(days=200)
    at = f"{last_close.isoformat()}T23:45:00Z"
    lines = []
    for n, account in enumerate(OLD_ACCOUNTS):
        opened = {
            "account_id": account,
            "customer_id": f"cus-{account}",
            "product": "credit_card",
            "currency": "USD",
            "opened_on": (due_date - timedelta(days=60)).isoformat(),
            "timezone": "America/New_York",
            "locale": "en-US",
            "contacts": {
                "phones": [{"number": f"+1202555{170 + n:04d}", "kind": "mobile"}],
                "emails": [f"{account}@example.com"],
                "postal_address": f"{n + 1} Example Street, Springfield",
            },
            "consents": {"sms": True, "email": True, "push": True, "autodialed_calls": True},
        }
        due = {
            "account_id": account,
            "due_id": f"{account}-d1",
            "due_date": due_date.isoformat(),
            "amount_due_minor": 42000,
            "statement_balance_minor": 420000,
        }
        trace = {"traceparent": TRACEPARENT} if account == ACCOUNT else {}
        lines.append(_line("account.opened", f"{account}-open", account, at, opened))
        lines.append(_line("payment.due", f"{account}-due", account, at, due, **trace))
    invalid = {"account_id": ACCOUNT, "payment_id": f"{ACCOUNT}-bad", "amount_minor": -5}
    invalid["received_on"] = last_close.isoformat()
    lines.append(_line("payment.received", "obs-invalid", ACCOUNT, at, invalid))
    extra = platform.work / "old-accounts.jsonl"
    extra.write_text("".join(lines))
    platform.publish(extra)

    # Before the next close, legal must know the account's dpd (its balance and bucket change) and
    # have folded every contact request outreach made for it (recorded on one partition, in one
    # transaction, before any result), since the close counts the attempts.
    def requests_folded() -> bool:
        requested = platform.value("sum(collections_contacts_requested_total)") - requested_before
        legal = {t: _consumed(platform, "collections-legal", t) - legal_before[t] for t in legal_types}
        known = min(legal.values()) >= len(OLD_ACCOUNTS)
        return requested >= 3 * len(OLD_ACCOUNTS) and legal["outreach.contact_recorded"] >= requested and known

    _poll("outreach's requests for the traced account, folded by legal", requests_folded)
    platform.timings["traced due settled"] = time.monotonic() - t

    t = time.monotonic()
    next_close = last_close + timedelta(days=1)
    while next_close.weekday() >= 5:
        next_close += timedelta(days=1)
    close = platform.work / "close.jsonl"
    close.write_text(
        _line("day.closed", "obs-close", "clock", f"{next_close}T23:30:00Z", {"as_of": next_close.isoformat()})
    )
    platform.publish(close)
    _poll("a legal case opened at the next close", lambda: platform.value("sum(collections_cases_total)") > 0)
    platform.timings["next close settled"] = time.monotonic() - t


# -- Prometheus -------------------------------------------------------------------------------------
FLOW = {
    "consumed by ledger": 'sum(messaging_client_consumed_messages_total{service_name="collections-ledger"})',
    "consumed by delinquency": 'sum(messaging_client_consumed_messages_total{service_name="collections-delinquency"})',
    "consumed by outreach": 'sum(messaging_client_consumed_messages_total{service_name="collections-outreach"})',
    "consumed by legal": 'sum(messaging_client_consumed_messages_total{service_name="collections-legal"})',
    "sent by every service": "count(sum by (service_name) (messaging_client_sent_messages_total) > 0)",
    "bucket transitions": "sum(collections_bucket_transitions_total)",
    "contacts requested": "sum(collections_contacts_requested_total)",
    "contacts suppressed": "sum(collections_contacts_suppressed_total)",
    "contact results": "sum(collections_contact_results_total)",
    "promises (the book has 2)": "sum(collections_promises_total)",
    "charge-offs (the old accounts)": "sum(collections_charge_offs_total)",
    "cases opened (the old accounts)": 'sum(collections_cases_total{event="opened"})',
    "rejected (the invalid payment)": "sum(collections_rejected_total)",
    "dead-lettered (the invalid payment)": "sum(collections_dead_lettered_total)",
    "day closes timed": "sum(collections_day_close_duration_seconds_count)",
}


def test_the_flow_metrics_are_non_zero(make_up: MakeUp) -> None:
    def values() -> dict[str, float]:
        return {name: make_up.value(expr) for name, expr in FLOW.items()}

    # The last scrape may be up to one interval (2 s) behind what the services hold.
    deadline = time.monotonic() + 10
    found = values()
    while min(found.values()) <= 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        found = values()
    zero = {name: v for name, v in found.items() if v <= 0}
    assert not zero, f"flow metrics still zero: {zero}; all: {found}"
    assert found["sent by every service"] == len(SERVICES)


def _expression_params() -> list[Any]:
    return [pytest.param(where, expr, id=where[:70]) for where, expr in EXPRESSIONS]


@pytest.mark.parametrize(("where", "expr"), _expression_params())
def test_every_metric_a_panel_or_rule_uses_is_in_prometheus(make_up: MakeUp, where: str, expr: str) -> None:
    query = expr.replace("$service", ".*")
    if query.startswith("label_values("):  # a Grafana variable, not PromQL: ask for its metric's series
        query = OBS.metrics_in(query).pop()
    make_up.query(query)  # Prometheus accepts the expression as it stands

    def missing() -> set[str]:
        names = make_up.names()
        return {m for m in OBS.metrics_in(expr) if not ({m, f"{m}_bucket", f"{m}_count"} & names)}

    # A gauge set at a day close (accounts per bucket) reaches Prometheus at its next scrape: poll a
    # little rather than read once; a metric no service records still fails.
    try:
        _poll(f"{where}: its metrics in Prometheus", lambda: not missing(), 20)
    except AssertionError:
        pass
    assert not missing(), f"{where}: {sorted(missing())} not in Prometheus after the end-to-end run"


def test_prometheus_evaluates_every_alert_rule(make_up: MakeUp) -> None:
    groups = _get(f"{make_up.prometheus}/api/v1/rules")["data"]["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(rules) == {w.split(": ", 1)[1] for w, _ in OBS._rule_exprs()}
    _poll(
        "every rule evaluated once",
        lambda: all(r.get("lastEvaluation", "").startswith("2") for r in _rule_states(make_up)),
        10,
    )
    assert {r["health"] for r in _rule_states(make_up)} == {"ok"}


def _rule_states(make_up: MakeUp) -> list[dict[str, Any]]:
    groups = _get(f"{make_up.prometheus}/api/v1/rules")["data"]["groups"]
    return [r for g in groups for r in g["rules"]]


# -- Jaeger -----------------------------------------------------------------------------------------
def test_the_traced_payment_is_read_back_from_jaeger_with_all_four_services(
    make_up: MakeUp, missing_build: Callable[[str], NoReturn]
) -> None:
    if make_up.jaeger is None:
        missing_build(
            "Jaeger not built, so make up started without it: run deploy/local/jaeger.sh install (a few minutes, once)"
        )

    def spans() -> list[tuple[str, str]] | None:
        data = _get(f"{make_up.jaeger}/api/traces/{TRACE_ID}")["data"]
        if not data:
            return None
        processes = data[0]["processes"]
        found = [(processes[s["processID"]]["serviceName"], s["operationName"]) for s in data[0]["spans"]]
        return found if {service for service, _ in found} >= set(SERVICES) else None

    in_trace = set(_poll(f"trace {TRACE_ID} with spans from {SERVICES}", spans, 30))
    assert ("collections-ledger", "process payment.due") in in_trace
    assert ("collections-delinquency", "process ledger.balance_changed") in in_trace
    assert ("collections-outreach", "process delinquency.bucket_changed") in in_trace
    assert ("collections-legal", "process outreach.contact_recorded") in in_trace


# -- Zipkin (the trace UI `make up` prints) ---------------------------------------------------------
def test_the_traced_payment_reaches_the_trace_ui_make_up_prints(
    make_up: MakeUp, missing_build: Callable[[str], NoReturn]
) -> None:
    """Jaeger forwards every span to Zipkin: its API behind the printed UI has the whole trace (the
    page itself is opened in headless Chromium by tests/deploy/test_zipkin_trace_ui.py)."""
    if make_up.zipkin is None:
        missing_build("Jaeger not built, so make up started without traces: run deploy/local/jaeger.sh install")
    api = make_up.zipkin.removesuffix("zipkin/")

    def services() -> set[str] | None:
        names = {span["localEndpoint"]["serviceName"] for span in _get(f"{api}api/v2/trace/{TRACE_ID}")}
        return names if names >= set(SERVICES) else None

    _poll(f"trace {TRACE_ID} in Zipkin with spans from {SERVICES}", services, 30)


# -- make restart SERVICE= (issue 15: restarting a killed service was undocumented and truncated its log)
def test_restart_brings_back_a_killed_service_and_keeps_its_log(make_up: MakeUp) -> None:
    run = make_up.work / "state" / "run"
    log_before = (run / "ledger.log").read_text(errors="replace")
    pid = int((run / "ledger.pid").read_text())
    os.killpg(pid, 9)
    port = int((run / "ledger.port").read_text())
    restart = subprocess.run(
        [str(LOCAL / "restart.sh"), "ledger"], cwd=ROOT, env=make_up.env, capture_output=True, text=True, timeout=300
    )
    assert restart.returncode == 0, restart.stderr[-3000:]
    assert "outreach database" in restart.stdout and "/collections_outreach" in restart.stdout
    assert int((run / "ledger.pid").read_text()) != pid
    ready = _poll("ledger ready again", lambda: _get(f"http://127.0.0.1:{port}/ready") or None, 60)
    assert ready == {"status": "ready"}
    log_after = (run / "ledger.log").read_text(errors="replace")
    assert log_after.startswith(log_before) and log_after.count("=== ledger started") == 2
    for wrong in ([], ["payments"]):
        refused = subprocess.run(
            [str(LOCAL / "restart.sh"), *wrong], cwd=ROOT, env=make_up.env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0 and refused.stderr.strip().count("\n") == 0, refused.stderr
        assert "ledger, delinquency, outreach, legal, channels" in refused.stderr
