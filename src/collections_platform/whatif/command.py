"""The terminal side of `collections whatif`: a progress bar, a rich table, --out files."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from collections_events.config import load_config
from collections_events.telemetry import setup_logging
from collections_platform.replay import ReplayError
from collections_platform.whatif.compare import NOTE, render_report, whatif


def whatif_command(input_path: Path, configs: list[Path], out: Path | None) -> int:
    """Run the what-if; 2 with one line for fewer than two configs, a bad config or input."""
    if len(configs) < 2:
        print("collections whatif: give --config at least twice (the configurations to compare)", file=sys.stderr)
        return 2
    if not input_path.is_file():
        print(f"collections whatif: cannot read {input_path}: no such file", file=sys.stderr)
        return 2
    for path in configs:
        load_config(path)  # a bad config stops before any replay (ConfigError: the caller's one line)
    if out is not None and out.exists() and not out.is_dir():
        print(f"collections whatif: --out {out} is a file, not a folder", file=sys.stderr)
        return 2
    setup_logging("WARNING")
    console = Console()
    with Progress(
        TextColumn("[bold]what-if"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("configurations"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("what-if", total=len(configs))
        try:
            results = asyncio.run(whatif(input_path, configs, lambda _p: progress.advance(task)))
        except ReplayError as exc:
            print(f"collections whatif: {exc}", file=sys.stderr)
            return 2
    console.print(_table(results))
    console.print(NOTE)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "whatif.json").write_text(json.dumps({"configs": results}, indent=2) + "\n", encoding="utf-8")
        (out / "whatif.html").write_text(render_report(results), encoding="utf-8")
        console.print(f"wrote {out / 'whatif.json'} and {out / 'whatif.html'}")
    return 0


def _table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="What-if (same input, each configuration)")
    table.add_column("figure")
    for r in results:
        table.add_column(Path(r["config"]).name, justify="right")
    rows: list[tuple[str, list[Any]]] = []
    for channel in sorted({c for r in results for c in r["contacts_requested"]}):
        rows.append((f"requested: {channel}", [r["contacts_requested"].get(channel, 0) for r in results]))
    for reason in sorted({c for r in results for c in r["suppressed"]}):
        rows.append((f"suppressed: {reason}", [r["suppressed"].get(reason, 0) for r in results]))
    for group in ("promises", "arrangements"):
        for key in ("made", "kept", "completed", "broken"):
            if key in results[0][group]:
                rows.append((f"{group} {key}", [r[group][key] for r in results]))
    for key in ("cases_opened", "placements", "charge_offs"):
        rows.append((key.replace("_", " "), [r[key] for r in results]))
    for name, values in rows:
        table.add_row(name, *(f"{v:,}" for v in values))
    for i, roll in enumerate(results[0]["roll_rates"]):
        shares = [r["roll_rates"][i]["roll_forward"] if i < len(r["roll_rates"]) else None for r in results]
        table.add_row(f"roll forward from {roll['from']}", *("-" if v is None else f"{v * 100:.1f} %" for v in shares))
    return table
