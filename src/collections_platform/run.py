"""`collections run`: the embedded default over a simulated portfolio (issue 6, `make run`).

Day by day: the channel results of the last close's contact requests are fed on the results topic,
then the lender's events of the date, then `day.closed`; the platform drains after each of the three
(behaviour.md, Time and order: waiting before each close gives replay's decisions). Every inbound
event fed is also written to `<state>/input.jsonl`, so `collections replay` can run the same input,
and every event published to `<state>/output.jsonl` (replay's output format).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES
from collections_events.store.uow import encode_envelope
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event, read_structured
from collections_platform.embedded import build_embedded, close_embedded
from collections_platform.simulation.agencies import AgencySimulator
from collections_platform.simulation.channels import ChannelSimulator
from collections_platform.simulation.portfolio import Portfolio, PortfolioSettings
from collections_platform.summary import Summary

DayCallback = Callable[[int, int, Summary], None]


@dataclass
class SimulationRun:
    """A finished simulation: the platform (still open, for the APIs), its figures and timings."""

    platform: EmbeddedPlatform
    summary: Summary
    seconds: float
    timings: dict[str, float]


class StateDirError(Exception):
    """The state directory holds something other than a previous run's state; it is left alone."""


# What a previous run leaves in its state directory: anything else there is not ours to delete.
_OURS = (
    ".sqlite3",
    ".sqlite3-wal",
    ".sqlite3-shm",
    ".sqlite3-journal",
    "input.jsonl",
    "output.jsonl",
    "summary.json",
    "config.yaml",
    "replay-lines-read",  # a replay's, into the same state (a fresh run starts its count again)
    ".replay.lock",
)


def fresh_state_dir(state_dir: Path) -> None:
    """Empty `state_dir` of a previous run's files (create it if missing).

    Raises StateDirError when it holds anything a run does not write (a wrong `--state`).
    """
    if state_dir.exists():
        if not state_dir.is_dir():
            raise StateDirError(f"--state {state_dir} is not a directory")
        foreign = [p.name for p in state_dir.iterdir() if not (p.is_file() and p.name.endswith(_OURS))]
        if foreign:
            raise StateDirError(
                f"--state {state_dir} holds files a run did not write ({', '.join(sorted(foreign)[:3])}); "
                "refusing to empty it"
            )
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)


class InvalidSimulatedEvent(Exception):
    """The simulation produced an event the contract refuses (a bug in the simulation)."""


async def simulate(
    settings: PortfolioSettings,
    config: PlatformConfig,
    state_dir: Path,
    on_day: DayCallback | None = None,
) -> SimulationRun:
    """Run every available service and the channel simulator over a fresh portfolio.

    `state_dir` is emptied first (StateDirError when it holds foreign files). The platform is
    returned started (close it with `close_embedded`). Raises InvalidSimulatedEvent if the
    simulation made a contract-invalid event.
    """
    fresh_state_dir(state_dir)
    # The configuration the run used, so that `collections replay input.jsonl --config` repeats it.
    (state_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    began = time.perf_counter()
    portfolio = Portfolio(settings)
    channels = ChannelSimulator(settings.seed, lambda account: portfolio.customer(account).promise_keeping)
    agencies = AgencySimulator(settings.seed)
    summary = Summary([b.name for b in config.delinquency.bucket_list])
    requests: list[dict[str, Any]] = []
    timings = {"generate": 0.0, "platform": 0.0, "channels": 0.0}

    outputs = (state_dir / "output.jsonl").open("w", encoding="utf-8")

    def published(envelope: Envelope) -> None:
        outputs.write(encode_envelope(envelope) + "\n")
        summary.observe(envelope.type, envelope.data)
        if envelope.type == "outreach.contact_requested":
            requests.append({"type": envelope.type, "data": envelope.data})
        elif envelope.type in ("ledger.balance_changed", "outreach.arrangement_declined"):
            channels.observe({"type": envelope.type, "data": envelope.data})
        elif envelope.type == "ledger.waiver_posted":
            portfolio.note_waiver(envelope.data["account_id"], envelope.data["amount_minor"])
        elif envelope.type == "outreach.arrangement_made":
            portfolio.note_arrangement(envelope.data["account_id"], True)
        elif envelope.type in ("outreach.arrangement_completed", "outreach.arrangement_broken"):
            portfolio.note_arrangement(envelope.data["account_id"], False)
        elif envelope.type in ("legal.account_placed", "legal.placement_recalled"):
            agencies.observe({"type": envelope.type, "data": envelope.data})

    # The state directory is emptied at every run (fresh_state_dir): commits need not wait for the disk.
    platform = build_embedded(state_dir, config, published, durable=False)
    try:
        await platform.start()
        workers = _Workers(channels, agencies)
        await _simulate_days(platform, portfolio, workers, summary, requests, timings, outputs, state_dir, on_day)
    except BaseException:
        # Interrupted (Ctrl-C cancels the task) or failed: the databases are closed here, not by the
        # garbage collector at exit (which logs each connection it has to close).
        await close_embedded(platform)
        raise
    return SimulationRun(platform, summary, time.perf_counter() - began, timings)


@dataclass
class _Workers:
    """Who answers between closes: the channel providers and the collection agencies."""

    channels: ChannelSimulator
    agencies: AgencySimulator


async def _simulate_days(
    platform: EmbeddedPlatform,
    portfolio: Portfolio,
    workers: _Workers,
    summary: Summary,
    requests: list[dict[str, Any]],
    timings: dict[str, float],
    outputs: TextIO,
    state_dir: Path,
    on_day: DayCallback | None,
) -> None:
    """Every business day of the portfolio: channel and agency results, the lender's events, then the close."""
    channels, agencies = workers.channels, workers.agencies
    with outputs, (state_dir / "input.jsonl").open("w", encoding="utf-8") as recording:
        feeder = _Feeder(platform, summary, channels, recording, agencies)
        for number, day in enumerate(portfolio.days, start=1):
            # One transaction per service per business day (decision 0009; the APIs are served only
            # after the simulation): an interrupted run keeps every whole day before it.
            async with contextlib.AsyncExitStack() as held:
                for runtime in platform.runtimes:
                    await held.enter_async_context(runtime.hold())
                t0 = time.perf_counter()
                results = [result for request in requests for result in channels.answer(request)]
                results += agencies.work(day)
                requests.clear()
                timings["channels"] += time.perf_counter() - t0
                await feeder.feed_all(results, timings)
                t0 = time.perf_counter()
                for payment in [*channels.take_payments(), *agencies.take_payments()]:
                    portfolio.schedule_payment(payment.account_id, payment.on, payment.amount_minor)
                lender = portfolio.events_on(day)
                timings["generate"] += time.perf_counter() - t0
                await feeder.feed_all(lender, timings)
                await feeder.feed_all([portfolio.day_closed(day)], timings)
            summary.close_day(day)
            if on_day is not None:
                on_day(number, len(portfolio.days), summary)
            # A point where the event loop runs other callbacks once a business day: Ctrl-C (which
            # cancels the task) stops the run here, not a whole simulation later.
            await asyncio.sleep(0)


class _Feeder:
    """Validates, records and feeds inbound events, then drains the platform."""

    def __init__(
        self,
        platform: EmbeddedPlatform,
        summary: Summary,
        channels: ChannelSimulator,
        recording: TextIO,
        agencies: AgencySimulator | None = None,
    ) -> None:
        self.platform = platform
        self.summary = summary
        self.channels = channels
        self.recording = recording
        self.agencies = agencies

    async def feed_all(self, events: list[dict[str, Any]], timings: dict[str, float]) -> None:
        if not events:
            return
        for raw in events:
            parsed = read_structured(raw, inbound_only=True)
            if not isinstance(parsed, Event):
                raise InvalidSimulatedEvent(f"{raw.get('type')} {raw.get('id')}: {parsed.reason}")
            self.recording.write(json.dumps(raw, ensure_ascii=False, separators=(",", ":")) + "\n")
            self.summary.observe_inbound(raw)
            self.channels.observe(raw)
            if self.agencies is not None:
                self.agencies.observe(raw)
            self.platform.feed(EVENT_TYPES[parsed.type].topic, parsed)
        t0 = time.perf_counter()
        await self.platform.drain()
        timings["platform"] += time.perf_counter() - t0
