"""`collections whatif INPUT.jsonl --config A.yaml --config B.yaml [--out DIR]` (contract.md, Analysis
commands; behaviour.md, Strategy experiments).

Each configuration replays the same input on fresh state (collections_platform.replay); the figures
come from its output alone (collections_platform.summary). Payments are inputs: a what-if shows
what a change does to contact volume, suppressions and escalation, not how customers would answer.
Roll rates are measured month end to month end on the `as_of` of the bucket changes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from html import escape
from pathlib import Path
from typing import Any

from collections_events.config import load_config
from collections_events.telemetry import setup_logging
from collections_platform.ops_page import bar_chart, stacked_chart
from collections_platform.replay import replay
from collections_platform.summary import Summary

NOTE = (
    "Payments are inputs, not re-simulated: a what-if shows what a change does to contact volume, "
    "suppressions, cost and escalation, not how customers would have answered (that is what a live "
    "challenger is for)."
)


def figures_of(output: Path, bucket_names: list[str]) -> dict[str, Any]:
    """The whatif.json figures of one replay's output file."""
    summary = Summary(bucket_names)
    last_as_of: str | None = None
    for line in output.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        data = event["data"]
        as_of = data.get("as_of") if event["type"] == "delinquency.bucket_changed" else None
        if as_of is not None and last_as_of is not None and as_of != last_as_of:
            from datetime import date

            summary.close_day(date.fromisoformat(last_as_of))
        if as_of is not None:
            last_as_of = as_of
        summary.observe(event["type"], data)
    f = summary.figures()
    promises = f["promises"]
    arrangements = {
        k: f["arrangements"]["plan"][k] + f["arrangements"]["settlement"][k] for k in ("made", "completed", "broken")
    }
    return {
        "contacts_requested": f["contacts_requested"],
        "suppressed": f["suppressions"],
        "promises": {"made": promises["recorded"], "kept": promises["kept"], "broken": promises["broken"]},
        "arrangements": arrangements,
        "cases_opened": f["cases"]["opened"],
        "placements": f["events"]["published_by_type"].get("legal.account_placed", 0),
        "charge_offs": f["charged_off"],
        "roll_rates": f["roll_rates"],
    }


async def whatif(input_path: Path, configs: list[Path], on_done: Any = None) -> list[dict[str, Any]]:
    """Replay `input_path` under each config; the figures of each, in `--config` order.

    Each replay runs in a process of its own, as many at once as the machine has cores (a replay is
    one CPU-bound process): two configurations on two cores take the time of one. `on_done(path)` is
    called as each finishes. Raises what a replay raises (ReplayError, OSError).
    """
    loop = asyncio.get_running_loop()
    workers = max(1, min(len(configs), os.cpu_count() or 1))
    # spawn, not fork: the caller's event loop and open files are not copied into the workers.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [loop.run_in_executor(pool, replay_figures, input_path, path) for path in configs]
        if on_done is not None:
            for path, future in zip(configs, futures, strict=True):
                future.add_done_callback(functools.partial(_report_done, on_done, path))
        return list(await asyncio.gather(*futures))


def _report_done(on_done: Any, path: Path, future: asyncio.Future[dict[str, Any]]) -> None:
    if not future.cancelled() and future.exception() is None:
        on_done(path)


def replay_figures(input_path: Path, config_path: Path) -> dict[str, Any]:
    """One configuration's what-if: replay on fresh state, then its figures (runs in a worker process)."""
    # A worker is a fresh process: its logs go to stderr and only warnings, as replay's do (the
    # services' info lines went to stdout, between the progress bar and the table).
    setup_logging("WARNING")
    config = load_config(config_path)
    with tempfile.TemporaryDirectory(prefix="collections-whatif-") as tmp:
        out = Path(tmp) / "out.jsonl"
        asyncio.run(replay(input_path, out, config, None))
        names = [b.name for b in config.delinquency.bucket_list]
        return {"config": str(config_path), **figures_of(out, names)}


def render_report(results: list[dict[str, Any]]) -> str:
    """The self-contained HTML report: inline SVG charts per configuration, side by side."""
    columns = []
    for r in results:
        rolls = [(x["from"], (x["roll_forward"] or 0) * 100) for x in r["roll_rates"] if x["accounts"]]
        escalation = [
            ("cases opened", r["cases_opened"]),
            ("placements", r["placements"]),
            ("charge-offs", r["charge_offs"]),
        ]
        charts = "".join(
            [
                bar_chart("Contacts requested by channel", list(r["contacts_requested"].items())),
                bar_chart("Suppressions by reason", list(r["suppressed"].items())),
                stacked_chart(
                    "Promises and arrangements", {"promises": r["promises"], "arrangements": r["arrangements"]}
                ),
                bar_chart("Cases, placements, charge-offs", escalation),
                bar_chart("Roll forward, month to month (%)", rolls, fmt="{:.1f} %"),
            ]
        )
        columns.append(f"<div class=col><h2>{escape(r['config'])}</h2>{charts}</div>")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Collections: what-if</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;color:#222}}
main{{display:flex;gap:1.5rem;overflow-x:auto}} .col{{min-width:660px}}
section{{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin-bottom:1rem}} h2{{font-size:1rem}}
svg text{{font-size:12px;fill:#222}} .key{{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em}}
.note{{background:#fff6dd;padding:.6rem 1rem;border-radius:6px}}</style></head><body>
<h1>What-if: one input, {len(results)} configurations</h1>
<p class=note>{escape(NOTE)}</p>
<main>{"".join(columns)}</main></body></html>"""
