"""Benchmark: the platform's throughput on Kafka + PostgreSQL as a share of the raw broker (issue 14).
Prints figures (and writes them as JSON with --json); it is not a test and asserts no timing.

    uv run python bench/throughput.py [--events 30000] [--preload ROWS] [--json FILE]   (make bench)

In ONE run on ONE broker and ONE PostgreSQL (started with deploy/local/kafka.sh and postgres.sh,
state under /tmp/collections-bench-throughput, stopped at the end; or the servers named by
COLLECTIONS_KAFKA_BOOTSTRAP / COLLECTIONS_PG_URL, left running) it measures:

- passthrough: raw aiokafka consume -> produce (idempotent, acks=all) -> offset commit per fetched
  batch, on the platform's own inbound messages (same keys, headers and sizes), one consumer in this
  process, timed from its partition assignment like the services. The anchor.
- postgres: raw asyncpg inserts of 100 rows per statement (unnest, autocommit) into a table shaped
  like the event log, the rows being the mix's events. The second anchor (rows/s).
- each service alone, `collections-<svc> run` in its own OS process on its own fresh database, fed
  the topics it consumes pre-produced: ledger reads the inbound mix, delinquency the ledger's output
  of that run, outreach and legal what is on the topics by then (their runs are chained on one set
  of topics, so each reads realistic input; outreach runs before legal, so it sees no legal events).
  events/s = records on its subscribed topics / time. The order across topics is the consumer's, so
  what a follower decides (and so how many outputs it makes: the table's column) varies from run to
  run; e.g. delinquency reads the 60 day closes early or late among the balance changes.
- ledger + delinquency end to end, and all four end to end, each on fresh topics and databases with
  the inbound mix pre-produced. events/s = inbound records those services read / time.

The mix: the seeded lender portfolio of `collections run` (collections_platform.simulation: account
openings and changes, dues, payments, reversals, day closes), about 60 business days, plus one
customer-started contact result (`attempt_id` null, as the channel simulator sends for a callback)
for ~10 % of the events, since contact results answer the platform's own requests and so cannot be
generated ahead without running it.

Time: from the first `partitions assigned` log line of the run's service processes (the earliest:
conservative) to the last progress seen on Kafka (a committed offset of the services' groups or a
record on their output topics), once every group's lag is 0, the outputs have been quiet for 2 s and
every outbox is empty; polled every 0.1 s. Peak memory is VmHWM of each service process. The load
average (1 min) is printed before and after: the machine is shared, read the figures with it.
--preload ROWS fills the inbox and event tables of every service database with ROWS rows first, so
the figures show whether the cost per event grows with history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES, TOPIC_KEYS
from collections_events.runtime.service import ServiceSpec
from collections_events.testing import (
    produce,
    produce_raw,
    start_service_process,
    stop_service_process,
    topic_partitions,
    unique_topics_config,
)
from collections_events.transport.kafka import encode_binary, producer_settings
from collections_platform.simulation.portfolio import Portfolio, PortfolioSettings

ROOT = Path(__file__).resolve().parents[1]
STATE = Path("/tmp/collections-bench-throughput")
SERVICES = ("ledger", "delinquency", "outreach", "legal")
QUIET_S = 2.0
POLL_S = 0.1
DAYS = 60
EVENTS_PER_ACCOUNT = 7.1  # the portfolio's ~6.4 per account over 60 days, plus the contact results


@dataclass
class Figure:
    """One row of the table."""

    name: str
    events: int
    seconds: float
    unit: str = "events/s"
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    outputs: int = 0
    rejected: int = 0
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


# -- servers ---------------------------------------------------------------------------------------
def _script(name: str, action: str) -> str:
    env = {**os.environ, "COLLECTIONS_STATE": str(STATE)}
    done = subprocess.run(
        [str(ROOT / "deploy/local" / name), action], env=env, check=True, capture_output=True, text=True
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(PostgreSQL server URL, Kafka bootstrap): the environment's, or started here and stopped after."""
    pg, kafka = os.environ.get("COLLECTIONS_PG_URL"), os.environ.get("COLLECTIONS_KAFKA_BOOTSTRAP")
    started = []
    try:
        if not pg:
            pg = _script("postgres.sh", "start")
            started.append("postgres.sh")
        if not kafka:
            kafka = _script("kafka.sh", "start")
            started.append("kafka.sh")
        yield pg, kafka
    finally:
        for name in reversed(started):
            _script(name, "stop")


def create_database(server: str, prefix: str) -> str:
    """A fresh database on `server`; returns its plain postgresql:// URL."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", server, "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    return f"{server}/{name}"


# -- the mix ---------------------------------------------------------------------------------------
def inbound_mix(events: int, seed: int = 7) -> list[tuple[str, Envelope]]:
    """About `events` inbound events (topic key, envelope) in the order a lender publishes them."""
    accounts = max(10, round(events / EVENTS_PER_ACCOUNT))
    portfolio = Portfolio(PortfolioSettings(seed=seed, accounts=accounts, days=DAYS))
    rng = random.Random(seed)
    opened: list[str] = []
    out: list[tuple[str, Envelope]] = []
    for day in portfolio.days:
        lender = portfolio.events_on(day)
        opened.extend(e["data"]["account_id"] for e in lender if e["type"] == "account.opened")
        results = [_contact_result(rng.choice(opened), day.isoformat(), rng) for _ in lender if rng.random() < 0.12]
        for raw in [*results, *lender, portfolio.day_closed(day)]:
            out.append((EVENT_TYPES[raw["type"]].topic, Envelope(**raw)))
    return out


def _contact_result(account_id: str, day: str, rng: random.Random) -> dict[str, Any]:
    outcome = rng.choice(("answered_rpc", "answered_third_party"))
    data = {"account_id": account_id, "attempt_id": None, "channel": "call", "outcome": outcome,
            "occurred_at": f"{day}T06:30:00Z"}  # fmt: skip
    return {"specversion": "1.0", "id": str(uuid.UUID(int=rng.getrandbits(128))), "source": "bench.channels",
            "type": "contact.result_reported", "subject": account_id, "time": f"{day}T06:30:00Z",
            "datacontenttype": "application/json", "data": data}  # fmt: skip


async def produce_mix(bootstrap: str, config: PlatformConfig, mix: Sequence[tuple[str, Envelope]]) -> None:
    for key in sorted({k for k, _ in mix}):
        await produce(bootstrap, config.topics.name(key), [e for k, e in mix if k == key])


# -- anchors ---------------------------------------------------------------------------------------
async def passthrough(bootstrap: str, mix: Sequence[tuple[str, Envelope]]) -> Figure:
    """Consume -> produce -> commit, one fetched batch at a time, on the mix's wire messages."""
    source, sink = f"bench.pass.{uuid.uuid4().hex[:8]}", f"bench.pass-out.{uuid.uuid4().hex[:8]}"
    messages = []
    for _, envelope in mix:
        wire = encode_binary(envelope)
        messages.append((wire.key, wire.value, list(wire.headers)))
    await produce_raw(bootstrap, source, messages)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=source, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )  # fmt: skip
    assigned: list[float] = []
    consumer.subscribe([source], listener=_Assigned(assigned))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings())
    await producer.start()
    await consumer.start()
    try:
        seen = 0
        while seen < len(messages):
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            futures = []
            for records in batches.values():
                for r in records:
                    futures.append(await producer.send(sink, value=r.value, key=r.key, headers=list(r.headers)))
                seen += len(records)
            await asyncio.gather(*futures)
            await consumer.commit()
        elapsed = time.time() - assigned[0]  # from the assignment, as for the services
    finally:
        await consumer.stop()
        await producer.stop()
    return Figure("raw aiokafka passthrough", seen, elapsed, note="consume, produce (acks=all), commit")


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records the instant (epoch s) the consumer got its partitions."""

    def __init__(self, at: list[float]) -> None:
        self.at = at

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.at.append(time.time())


async def postgres_inserts(server: str, mix: Sequence[tuple[str, Envelope]]) -> Figure:
    """asyncpg, 100 rows per INSERT ... unnest (autocommit) into an event-log-shaped table."""
    conn = await asyncpg.connect(create_database(server, "inserts"))
    try:
        await conn.execute(
            "CREATE TABLE events (stream_id varchar(200), version int, event_id varchar(200) UNIQUE, "
            "type varchar(100), time varchar(64), data text, PRIMARY KEY (stream_id, version))"
        )
        rows = [(e.subject, i, e.id, e.type, e.time, json.dumps(e.data)) for i, (_, e) in enumerate(mix)]
        sql = "INSERT INTO events SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])"  # noqa: E501
        started = time.perf_counter()
        for i in range(0, len(rows), 100):
            await conn.execute(sql, *map(list, zip(*rows[i : i + 100], strict=True)))
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return Figure("raw PostgreSQL inserts", len(rows), elapsed, unit="rows/s", note="100 rows per statement")


# -- services --------------------------------------------------------------------------------------
def spec_of(service: str) -> ServiceSpec:
    module = __import__(f"collections_{service}.adapters.spec", fromlist=["SPEC"])
    spec: ServiceSpec = module.SPEC
    return spec


async def prepare_database(server: str, service: str, preload: int) -> str:
    """A fresh, migrated database for `service` (inbox and event log holding `preload` rows)."""
    from collections_events.store.database import Database

    url = create_database(server, service)
    db = Database(url.replace("postgresql://", "postgresql+asyncpg://"))
    await db.migrate(spec_of(service).migrations)
    await db.close()
    if preload:
        conn = await asyncpg.connect(url)
        try:
            for table in ("inbox", "events"):
                await conn.execute(await _fill_sql(conn, table, spec_of(service).name, preload))
                await conn.execute(f"ANALYZE {table}")
        finally:
            await conn.close()
    return url


async def _fill_sql(conn: asyncpg.Connection, table: str, consumer: str, rows: int) -> str:
    """INSERT ... SELECT FROM generate_series filling every column of `table` by its type (so it
    follows the store's schema as it changes): text 'preload-<n>' (the service's name in `consumer`,
    '{}' in `data`), integers n, dates and booleans constants; identity columns left to PostgreSQL."""
    columns = await conn.fetch(
        "SELECT column_name, data_type, column_default, is_identity FROM information_schema.columns "
        "WHERE table_name = $1 AND table_schema = 'public' ORDER BY ordinal_position",
        table,
    )
    names, values = [], []
    for c in columns:
        if c["is_identity"] == "YES" or (c["column_default"] or "").startswith("nextval"):
            continue
        kind, name = c["data_type"], c["column_name"]
        if name == "consumer":
            value = f"'{consumer}'"
        elif name in ("data", "state", "event") or kind in ("json", "jsonb"):
            value = "'{}'" + ("::jsonb" if kind == "jsonb" else "")
        elif "char" in kind or kind == "text":
            value = "'preload-' || g"
        elif kind in ("integer", "bigint", "smallint"):
            value = "g"
        elif kind == "boolean":
            value = "true"
        elif kind == "date":
            value = "DATE '2020-01-01'"
        elif kind == "bytea":
            value = "'\\x00'::bytea"
        else:
            value = "now()"
        names.append(f'"{name}"')
        values.append(value)
    return f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM generate_series(1, {rows}) g"


class Run:
    """Service processes of one scenario, and the watch on Kafka that says when they are done."""

    def __init__(self, bootstrap: str, config: PlatformConfig, services: Sequence[str], urls: dict[str, str]) -> None:
        self.bootstrap, self.config, self.services, self.urls = bootstrap, config, services, urls
        self.config_path = STATE / f"config-{uuid.uuid4().hex[:8]}.yaml"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def input_topics(self) -> list[str]:
        return sorted({self.config.topics.name(k) for s in self.services for k in spec_of(s).topics})

    def output_topics(self) -> list[str]:
        return sorted({self.config.topics.name(k) for k in (*self.services, "rejected")})

    async def measure(self, name: str, events: int | None = None) -> Figure:
        """Start the processes, wait until done, stop them; `events` defaults to the input records."""
        self.config_path.write_text(yaml.safe_dump({"topics": {k: self.config.topics.name(k) for k in TOPIC_KEYS}}))
        ports = _free_ports(len(self.services))
        for service, port in zip(self.services, ports, strict=True):
            env = {"DATABASE_URL": self.urls[service].replace("postgresql://", "postgresql+asyncpg://"),
                   "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "COLLECTIONS_CONFIG": str(self.config_path),
                   "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "INFO", "OTEL_EXPORTER_OTLP_ENDPOINT": "",
                   "COLLECTIONS_TEST_LOG_DIR": str(STATE)}  # fmt: skip
            self.procs[service] = start_service_process(service, env)
        try:
            inputs = await topic_partitions(self.bootstrap, self.input_topics())
            total_inputs = await _end_total(self.bootstrap, inputs)
            started, ended, outputs, rejected = await self._watch(inputs)
            rss = {s: _peak_rss_mb(p.pid) for s, p in self.procs.items()}
        finally:
            for proc in self.procs.values():
                stop_service_process(proc)
        count = total_inputs if events is None else events
        return Figure(name, count, ended - started, peak_rss_mb=rss, outputs=outputs, rejected=rejected)

    async def _watch(self, inputs: list[TopicPartition]) -> tuple[float, float, int, int]:
        """(start, end, outputs, rejections): the wall-clock instants of the first `partitions
        assigned` and of the last progress; the records the run added to its output topics."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            outputs = await topic_partitions(self.bootstrap, self.output_topics())
            mine = {s: {tp for tp in inputs if tp.topic in self._topics_of(s)} for s in self.services}
            rejections = {tp for tp in outputs if tp.topic == self.config.topics.name("rejected")}
            base = await _end_offsets(self.bootstrap, outputs)
            last: tuple[int, int] | None = None
            last_change = time.time()
            while True:
                self._check_alive()
                ends = await _end_offsets(self.bootstrap, [*inputs, *outputs])
                committed, lag = 0, 0
                for service in self.services:
                    try:
                        offsets = await admin.list_consumer_group_offsets(f"collections-{service}")
                    except GroupCoordinatorNotAvailableError:  # the group is still forming: nothing done yet
                        offsets = {}
                    for tp in mine[service]:
                        done = offsets[tp].offset if tp in offsets else 0
                        committed += done
                        lag += ends[tp] - done
                now = (committed, sum(ends[tp] for tp in outputs))
                if now != last:
                    last, last_change = now, time.time()
                elif lag == 0 and time.time() - last_change >= QUIET_S and await self._outboxes_empty():
                    added = {tp: ends[tp] - base[tp] for tp in outputs}
                    rejected = sum(added[tp] for tp in rejections)
                    start = min(_assigned_at(p) for p in self.procs.values())
                    return start, last_change, sum(added.values()) - rejected, rejected
                await asyncio.sleep(POLL_S)
        finally:
            await admin.close()

    def _topics_of(self, service: str) -> set[str]:
        return {self.config.topics.name(k) for k in spec_of(service).topics}

    def _check_alive(self) -> None:
        for service, proc in self.procs.items():
            if proc.poll() is not None:
                tail = Path(proc.log_path).read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]
                raise RuntimeError(f"{service} exited with {proc.returncode}:\n{tail}")

    async def _outboxes_empty(self) -> bool:
        for service in self.services:
            conn = await asyncpg.connect(self.urls[service])
            try:
                try:
                    unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE NOT sent")
                except asyncpg.UndefinedColumnError:  # an outbox that prunes what it sent
                    unsent = await conn.fetchval("SELECT count(*) FROM outbox")
            finally:
                await conn.close()
            if unsent:
                return False
        return True


def _assigned_at(proc: subprocess.Popen[bytes]) -> float:
    """The instant (epoch s) of the process's first `partitions assigned` log line."""
    from datetime import datetime

    for line in Path(proc.log_path).read_text(errors="replace").splitlines():  # type: ignore[attr-defined]
        if "partitions assigned" in line:
            stamp = json.loads(line).get("timestamp")
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    raise RuntimeError(f"no 'partitions assigned' line in {proc.log_path}")  # type: ignore[attr-defined]


async def _end_offsets(bootstrap: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(list(partitions)))
    finally:
        await consumer.stop()


async def _end_total(bootstrap: str, partitions: Sequence[TopicPartition]) -> int:
    return sum((await _end_offsets(bootstrap, partitions)).values())


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of `pid` (the service process), in MB; 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


# -- the run ---------------------------------------------------------------------------------------
async def bench(pg: str, kafka: str, events: int, preload: int) -> list[Figure]:
    mix = inbound_mix(events)
    figures = [await passthrough(kafka, mix), await postgres_inserts(pg, mix)]

    chain = unique_topics_config(suffix=f"bench{uuid.uuid4().hex[:6]}")
    await produce_mix(kafka, chain, mix)
    for service in SERVICES:
        urls = {service: await prepare_database(pg, service, preload)}
        figures.append(await Run(kafka, chain, [service], urls).measure(f"{service} alone"))
        print(f"  {figures[-1].name}: {figures[-1].per_second:,.0f} events/s", file=sys.stderr)

    for name, services in (("ledger + delinquency", SERVICES[:2]), ("all four end to end", SERVICES)):
        config = unique_topics_config(suffix=f"bench{uuid.uuid4().hex[:6]}")
        await produce_mix(kafka, config, mix)
        urls = {s: await prepare_database(pg, s, preload) for s in services}
        read = {k for s in services for k in spec_of(s).topics}
        figures.append(await Run(kafka, config, services, urls).measure(name, sum(k in read for k, _ in mix)))
        print(f"  {figures[-1].name}: {figures[-1].per_second:,.0f} events/s", file=sys.stderr)
    return figures


def table(figures: Sequence[Figure], header: dict[str, Any]) -> str:
    anchor = figures[0].per_second
    lines = [
        f"throughput, {header['events_generated']:,} inbound events generated, preload {header['preload']:,} rows, "
        f"{header['cores']} cores, load {header['load_before']:.2f} before / {header['load_after']:.2f} after",
        f"{'':26} {'events':>8} {'seconds':>8} {'per second':>16} {'% of pass':>9} {'outputs':>8} {'rejected':>8}"
        f"  peak RSS (MB)",
    ]
    for f in figures:
        rss = ", ".join(f"{s} {mb:.0f}" for s, mb in f.peak_rss_mb.items()) or f.note
        share = f"{100 * f.per_second / anchor:.2f} %" if f.unit == "events/s" else "-"
        outputs, rejected = (f"{f.outputs:,}", f"{f.rejected:,}") if f.peak_rss_mb else ("-", "-")
        lines.append(
            f"{f.name:26} {f.events:>8,} {f.seconds:>8.2f} {f'{f.per_second:,.0f} {f.unit}':>16} {share:>9}"
            f" {outputs:>8} {rejected:>8}  {rss}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="inbound events to generate (about)")
    parser.add_argument("--preload", type=int, default=0, help="rows in each service's inbox and events first")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    STATE.mkdir(parents=True, exist_ok=True)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its transient errors while topics are created
    load_before = os.getloadavg()[0]
    with servers() as (pg, kafka):
        print(f"PostgreSQL {pg}, Kafka {kafka}", file=sys.stderr)
        figures = asyncio.run(bench(pg, kafka, args.events, args.preload))
    header = {"events_generated": math.floor(figures[0].events), "preload": args.preload, "cores": os.cpu_count(),
              "load_before": load_before, "load_after": os.getloadavg()[0],
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    print(table(figures, header))
    if args.json:
        rows = [{**asdict(f), "per_second": f.per_second, "percent_of_passthrough":
                 100 * f.per_second / figures[0].per_second} for f in figures]  # fmt: skip
        args.json.write_text(json.dumps({**header, "figures": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
