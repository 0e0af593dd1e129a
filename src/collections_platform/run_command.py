"""`collections run [--accounts N] [--days N] [--seed N] [--no-serve]`: simulate, summarise, serve."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collections_events.config import PlatformConfig, load_config
from collections_events.telemetry import setup_logging
from collections_platform.embedded import close_embedded
from collections_platform.report import print_summary
from collections_platform.run import InvalidSimulatedEvent, SimulationRun, StateDirError, simulate
from collections_platform.serve import HOST, OPS_PORT, SERVICE_PORTS, api_urls, serve
from collections_platform.simulation.agencies import lender_config
from collections_platform.simulation.portfolio import PortfolioSettings
from collections_platform.summary import Summary


def run_command(args: argparse.Namespace) -> int:
    """Run the simulation; unless `--no-serve`, keep the APIs up until Ctrl-C. Returns the exit status.

    Raises ConfigError (a bad `--config`), answered by the caller with a one-line reason.
    """
    config = load_config(args.config)
    if args.config is None:
        # Without a file the run is the simulated lender, which works with two agencies.
        config = lender_config(config)
    # The run's own output is the progress bar and the summary: services log warnings and errors only.
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING"))
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        # Checked before the run, not after it (a folder, or a file in a missing folder).
        print(f"collections run: --json {args.json} must be a file in an existing folder", file=sys.stderr)
        return 2
    if not args.no_serve:
        busy = [port for port in (OPS_PORT, *SERVICE_PORTS.values()) if not _port_free(port)]
        if busy:
            print(
                f"collections run: port(s) {', '.join(map(str, busy))} on {HOST} already in use "
                "(another `collections run`?); stop it or pass --no-serve",
                file=sys.stderr,
            )
            return 2
    settings = PortfolioSettings(seed=args.seed, accounts=args.accounts, days=args.days, start=args.start)
    try:
        return asyncio.run(_run(args, config, settings))
    except (InvalidSimulatedEvent, StateDirError) as exc:
        print(f"collections run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, config: PlatformConfig, settings: PortfolioSettings) -> int:
    console = Console()
    cpu0 = time.process_time()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("business days · {task.fields[events]} events"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("simulating", total=settings.days, events="0")

        def on_day(number: int, _total: int, summary: Summary) -> None:
            seen = sum(summary.inbound.values()) + sum(summary.published.values())
            progress.update(task, completed=number, events=f"{seen:,}")

        run = await _interruptible(simulate(settings, config, args.state, on_day))
        if run is None:
            progress.stop()
            print(f"collections run: interrupted; the partial state is in {args.state}", file=sys.stderr)
            return 130
    try:
        figures = run.summary.figures()
        print_summary(figures, run.seconds, console)
        t = run.timings
        console.print(
            f"time: {run.seconds:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU "
            f"(platform {t['platform']:.1f} s, portfolio {t['generate']:.1f} s, channels {t['channels']:.1f} s); "
            f"input recorded in {args.state / 'input.jsonl'}"
        )
        (args.state / "summary.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        if args.no_serve:
            return 0
        console.print(f"operations page: http://{HOST}:{OPS_PORT}/")
        for name, url in api_urls(run.platform):
            console.print(f"{name} API: {url}/docs")
        console.print("Ctrl-C to stop")
        await serve(run.platform, figures)
        return 0
    finally:
        await close_embedded(run.platform)


async def _interruptible(simulation: Coroutine[Any, Any, SimulationRun]) -> SimulationRun | None:
    """Run the simulation; Ctrl-C (SIGINT) or SIGTERM cancels it at the next business day. None then.

    The default SIGINT would raise KeyboardInterrupt wherever the loop stood and leave the databases
    to be closed by the garbage collector, which logs each connection it closes with a traceback.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(simulation)
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # cancelled from outside, not by a signal
        return None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True
