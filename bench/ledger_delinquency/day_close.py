"""Benchmark: one day close over 1,000,000 delinquent accounts on PostgreSQL, and events/s through the
ledger and delinquency (PostgreSQL; Kafka with --kafka). Prints figures; it is not a test.

    uv run python bench/ledger_delinquency/day_close.py [--accounts 1000000] [--every 30]
        [--events 30000] [--kafka] [--pg-url postgresql://...] [--kafka-bootstrap host:port]

Without --pg-url it starts its own PostgreSQL with deploy/local/postgres.sh (state under
/tmp/collections-bench-ledger-delinquency, so a test run's server is never touched) and stops it.

The day close: states of N accounts (all delinquent, as they stand after the close of D-1) are
bulk-loaded with COPY in a child process; then a fresh child process runs the real handler for
`day.closed` D through `ServiceRuntime.process` (one transaction: the reads, the updates, the bucket
history, the event log and the outbox). One account in `every` sits on a bucket edge at D. Memory is
the peak resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) of that child process, the
interpreter and imports included; the figure before the close started is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STATE = "/tmp/collections-bench-ledger-delinquency"
D = date(2024, 7, 1)
EDGES = (30, 60, 90, 120, 150, 180)


def _script(name: str, *args: str, state: str = STATE) -> str:
    env = {**os.environ, "COLLECTIONS_STATE": state}
    done = subprocess.run(
        [str(ROOT / "deploy/local" / name), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def create_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", server, "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    return f"{server}/{name}"


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://")


# -- the day close -------------------------------------------------------------------------------
def account_rows(n: int, every: int) -> Any:
    """(account_id, dues, bucket, delinquent_since, charged_off, wake_on, known_since) as after close D-1."""
    from collections_delinquency.domain.account import DelinquencyAccount, evaluate, wake_on
    from collections_delinquency.domain.standing import BucketScheme, UnpaidDue
    from collections_events.config import US_BUCKETS

    scheme = BucketScheme.of([(b.name, b.from_dpd) for b in US_BUCKETS])
    last = D - timedelta(days=1)
    non_edges = [d for d in range(2, 180) if d not in EDGES]
    for i in range(n):
        dpd = EDGES[(i // every) % len(EDGES)] if i % every == 0 else non_edges[(i * 7) % len(non_edges)]
        since = D - timedelta(days=dpd)
        fresh = DelinquencyAccount((UnpaidDue(since, 1000 + i % 5000),), scheme.first)
        account, _ = evaluate(fresh, last, scheme, 180)
        wake = wake_on(account, last, scheme, 180)
        assert (wake == D) == (i % every == 0), (i, dpd, wake)
        dues = json.dumps([[since.isoformat(), 1000 + i % 5000]], separators=(",", ":"))
        yield (f"acc-{i:07d}", dues, account.bucket, account.delinquent_since, account.charged_off, wake, None)


async def load(url: str, n: int, every: int) -> None:
    """Migrate, COPY the account states, set the clock (the `$clock` snapshot) to D-1, ANALYZE."""
    import asyncpg

    from collections_delinquency.adapters.spec import SPEC
    from collections_events.store.database import Database

    db = Database(asyncpg_url(url))
    await db.migrate(SPEC.migrations)
    await db.close()
    conn = await asyncpg.connect(url)
    try:
        columns = ["account_id", "dues", "bucket", "delinquent_since", "charged_off", "wake_on", "known_since"]
        await conn.copy_records_to_table("delinquency_accounts", records=account_rows(n, every), columns=columns)
        closed = json.dumps({"last_closed": (D - timedelta(days=1)).isoformat()}, separators=(",", ":"))
        await conn.execute("UPDATE snapshots SET state = $1 WHERE stream_id = '$clock'", closed)
        await conn.execute("VACUUM ANALYZE delinquency_accounts")
    finally:
        await conn.close()


async def close_once(url: str) -> dict[str, Any]:
    """Run the real handler for `day.closed` D in this (fresh) process; returns time, memory, counts."""
    from collections_delinquency.adapters.spec import SPEC
    from collections_delinquency.app.metrics import close_metrics
    from collections_events.config import PlatformConfig
    from collections_events.runtime.runtime import ServiceRuntime
    from collections_events.store.database import Database
    from collections_events.validation import Event, read_structured

    event = read_structured(
        {
            "specversion": "1.0",
            "id": "bench-close",
            "source": "bench",
            "type": "day.closed",
            "subject": "clock",
            "time": "2024-07-01T23:00:00Z",
            "datacontenttype": "application/json",
            "data": {"as_of": D.isoformat()},
        }
    )
    assert isinstance(event, Event)
    runtime = ServiceRuntime(SPEC, Database(asyncpg_url(url)), PlatformConfig())
    await runtime.db.ping()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = _cpu()
    # What ServiceRuntime.process does for one delivery (less its one inbox row), timed in parts:
    # the handler (reads, domain, updates, history), then the unit of work's flush (event log and
    # outbox rows of what the handler emitted), then the commit.
    started = time.perf_counter()
    async with runtime.db.transaction() as session:
        uow = runtime.unit_of_work(session, event)
        await SPEC.handle(event, uow)
        handled = time.perf_counter()
        await uow.flush()
        flushed = time.perf_counter()
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outbox = await runtime.outbox_backlog()
    await runtime.db.close()
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "handler_seconds": handled - started,
        "flush_seconds": flushed - handled,
        "commit_seconds": elapsed - (flushed - started),
        "rss_before_mb": rss_before / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "accounts_read": close_metrics.last_accounts_read,
        "published": close_metrics.last_published,
        "outbox_rows": outbox,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_day_close(server: str, n: int, every: int) -> dict[str, Any]:
    url = create_database(server, "bench_close")
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child-load", url, str(n), str(every)], check=True)
    loaded = time.perf_counter() - started
    done = subprocess.run([sys.executable, __file__, "--child-close", url], check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load_seconds"] = loaded
    return figures


# -- events per second ---------------------------------------------------------------------------
def inbound_events(accounts: int) -> list[tuple[str, Any]]:
    """Per account: two dues and one payment (topic key, envelope)."""
    from collections_events.testing import make_envelope

    out = []
    for a in range(accounts):
        acc = f"acc-{a:06d}"
        for k, on in enumerate(("2024-01-10", "2024-02-10")):
            data = {"account_id": acc, "due_id": f"d{k}", "due_date": on, "amount_due_minor": 1000,
                    "statement_balance_minor": 5000}  # fmt: skip
            out.append(("billing", make_envelope("payment.due", data, event_id=f"{acc}-d{k}")))
        pay = {"account_id": acc, "payment_id": "p", "amount_minor": 1500, "received_on": "2024-02-01"}
        out.append(("payments", make_envelope("payment.received", pay, event_id=f"{acc}-p")))
    return out


async def bench_postgres_throughput(server: str, events: int) -> dict[str, Any]:
    """Ledger alone, then delinquency on the ledger's output, in batches of 500 (the runner's batch)."""
    from collections_delinquency.adapters.spec import SPEC as DELINQUENCY
    from collections_events.config import PlatformConfig
    from collections_events.runtime.runtime import Delivery, OutboxMessage, ServiceRuntime
    from collections_events.store.database import Database
    from collections_events.validation import Event, read_json, read_structured
    from collections_ledger.adapters.spec import SPEC as LEDGER

    config = PlatformConfig()
    ledger = ServiceRuntime(LEDGER, Database(asyncpg_url(create_database(server, "bench_ledger"))), config)
    delinquency = ServiceRuntime(DELINQUENCY, Database(asyncpg_url(create_database(server, "bench_dq"))), config)
    await ledger.start()
    await delinquency.start()
    feed = inbound_events(max(1, events // 3))
    deliveries = []
    for topic, envelope in feed:
        parsed = read_structured(envelope.to_structured())
        assert isinstance(parsed, Event)
        deliveries.append(Delivery(topic, parsed, position=envelope.id))
    started = time.perf_counter()
    for i in range(0, len(deliveries), 500):
        await ledger.process(deliveries[i : i + 500])
    ledger_s = time.perf_counter() - started

    produced: list[Delivery] = []

    async def collect(messages: list[OutboxMessage]) -> None:
        for m in messages:
            parsed = read_json(m.value)
            assert isinstance(parsed, Event)
            produced.append(Delivery(m.topic, parsed, position=str(m.seq)))

    while await ledger.relay(collect, limit=5000):
        pass
    close = read_structured(
        {"specversion": "1.0", "id": "tp-close", "source": "bench", "type": "day.closed", "subject": "clock",
         "time": "2024-03-01T00:00:00Z", "datacontenttype": "application/json", "data": {"as_of": "2024-03-01"}}
    )  # fmt: skip
    assert isinstance(close, Event)
    # half the balance changes before a close, half after (those decide and publish at once)
    half = len(produced) // 2
    stream = [*produced[:half], Delivery("clock", close, position="close"), *produced[half:]]
    started = time.perf_counter()
    for i in range(0, len(stream), 500):
        await delinquency.process(stream[i : i + 500])
    delinquency_s = time.perf_counter() - started
    published = await delinquency.outbox_backlog()
    await ledger.db.close()
    await delinquency.db.close()
    return {
        "ledger_events": len(deliveries),
        "ledger_events_per_s": len(deliveries) / ledger_s,
        "delinquency_events": len(stream),
        "delinquency_events_per_s": len(stream) / delinquency_s,
        "delinquency_published": published,
    }


async def bench_kafka_throughput(server: str, bootstrap: str, events: int) -> dict[str, Any]:
    """Both services on Kafka and PostgreSQL: from the first inbound event produced to the last
    ledger output handled by delinquency (end-to-end events/s, inbound events counted)."""
    from sqlalchemy import func, select

    from collections_delinquency.adapters.spec import SPEC as DELINQUENCY
    from collections_events.store.database import Database
    from collections_events.testing import produce, running_service, unique_topics_config
    from collections_ledger.adapters.spec import SPEC as LEDGER

    config = unique_topics_config()
    feed = inbound_events(max(1, events // 3))
    ledger_url = asyncpg_url(create_database(server, "bench_kledger"))
    dq_url = asyncpg_url(create_database(server, "bench_kdq"))
    kw: dict[str, Any] = {"bootstrap_servers": bootstrap, "config": config}
    accounts = len(feed) // 3
    async with (
        running_service(LEDGER, database_url=ledger_url, **kw),
        running_service(DELINQUENCY, database_url=dq_url, **kw),
    ):
        probe = Database(dq_url)
        inbox = DELINQUENCY.tables["inbox"]
        started = time.perf_counter()
        for topic in ("billing", "payments"):
            await produce(bootstrap, config.topics.name(topic), [e for t, e in feed if t == topic])
        # every inbound event changes the balance once: delinquency handles one balance_changed each
        while True:
            async with probe.transaction() as s:
                handled = int(await s.scalar(select(func.count()).select_from(inbox)) or 0)
            if handled >= len(feed):
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        await probe.close()
    return {"kafka_inbound_events": len(feed), "accounts": accounts, "kafka_events_per_s": len(feed) / elapsed}


def _close_report(f: dict[str, Any], accounts: int, every: int) -> str:
    return (
        f"day close over {accounts:,} delinquent accounts, 1 in {every} on a bucket edge:\n"
        f"  loaded (COPY) in {f['load_seconds']:.1f} s\n"
        f"  close: {f['seconds']:.2f} s = handler {f['handler_seconds']:.2f} s (read, decide, update) "
        f"+ flush {f['flush_seconds']:.2f} s (event log, outbox) + commit {f['commit_seconds']:.2f} s\n"
        f"  CPU time of the closing process: {f['cpu_seconds']:.2f} s (PostgreSQL's own not included)\n"
        f"  accounts read {f['accounts_read']:,}, "
        f"events published {f['published']:,} (outbox rows {f['outbox_rows']:,})\n"
        f"  peak RSS of the closing process: {f['rss_peak_mb']:.0f} MB "
        f"({f['rss_before_mb']:.0f} MB before the close began; ru_maxrss)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=30, help="one account in EVERY changes bucket at D")
    parser.add_argument("--events", type=int, default=30_000, help="inbound events for the events/s figures")
    parser.add_argument("--pg-url", default=os.environ.get("COLLECTIONS_PG_URL"))
    parser.add_argument("--kafka", action="store_true", help="also measure events/s on Kafka")
    parser.add_argument("--kafka-bootstrap", default=os.environ.get("COLLECTIONS_KAFKA_BOOTSTRAP"))
    parser.add_argument("--skip-close", action="store_true")
    parser.add_argument("--child-load", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-close", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        url, n, every = args.child_load
        asyncio.run(load(url, int(n), int(every)))
        return
    if args.child_close:
        print(json.dumps(asyncio.run(close_once(*args.child_close))))
        return

    started_pg = started_kafka = False
    server = args.pg_url
    if not server:
        server = _script("postgres.sh", "start")
        started_pg = True
    bootstrap = args.kafka_bootstrap
    try:
        print(f"PostgreSQL: {server}   CPUs: {os.cpu_count()}   load average: {os.getloadavg()[0]:.1f}")
        if not args.skip_close:
            print(_close_report(bench_day_close(server, args.accounts, args.every), args.accounts, args.every))
        t = asyncio.run(bench_postgres_throughput(server, args.events))
        print(
            f"events/s on PostgreSQL (handler + store + inbox + outbox, batches of 500):\n"
            f"  ledger: {t['ledger_events']:,} inbound events at {t['ledger_events_per_s']:,.0f}/s\n"
            f"  delinquency: {t['delinquency_events']:,} events (balance changes and a close) at "
            f"{t['delinquency_events_per_s']:,.0f}/s, {t['delinquency_published']:,} published"
        )
        if args.kafka:
            if not bootstrap:
                bootstrap = _script("kafka.sh", "start")
                started_kafka = True
            k = asyncio.run(bench_kafka_throughput(server, bootstrap, args.events))
            print(
                f"events/s on Kafka + PostgreSQL (ledger and delinquency each its own consumer):\n"
                f"  {k['kafka_inbound_events']:,} inbound events through both services at "
                f"{k['kafka_events_per_s']:,.0f}/s end to end"
            )
    finally:
        if started_kafka:
            _script("kafka.sh", "stop")
        if started_pg:
            _script("postgres.sh", "stop")


if __name__ == "__main__":
    main()
