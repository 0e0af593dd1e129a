"""`collections whatif` (issue 17): a table, whatif.json in --config order, a self-contained HTML
report that headless Chromium renders without errors, one line for bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from collections_events.config import PlatformConfig
from collections_platform.cli import main
from collections_platform.embedded import close_embedded
from collections_platform.run import simulate
from collections_platform.simulation.portfolio import PortfolioSettings

ROOT = Path(__file__).resolve().parents[2]


async def test_whatif_compares_two_configs(
    tmp_path: Path, render_page: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await simulate(PortfolioSettings(seed=5, accounts=60, days=70), PlatformConfig(), tmp_path / "run")
    await close_embedded(run.platform)
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text("outreach:\n  strategy: []\n", encoding="utf-8")
    configs = [str(ROOT / "deploy" / "make-run.yaml"), str(quiet)]
    out = tmp_path / "out"
    status = await asyncio.to_thread(
        main,
        [
            "whatif",
            str(tmp_path / "run" / "input.jsonl"),
            "--config",
            configs[0],
            "--config",
            configs[1],
            "--out",
            str(out),
        ],
    )
    assert status == 0
    assert "Payments are inputs" in capsys.readouterr().out
    body = json.loads((out / "whatif.json").read_text(encoding="utf-8"))
    assert [c["config"] for c in body["configs"]] == configs
    first, second = body["configs"]
    assert sum(first["contacts_requested"].values()) > 0 and second["contacts_requested"] == {}
    for key in ("suppressed", "promises", "arrangements", "cases_opened", "placements", "charge_offs", "roll_rates"):
        assert key in first
    page = await render_page((out / "whatif.html").as_uri(), wait_for="svg")
    page.assert_clean()
    assert page.screenshot and "Payments are inputs" in page.text
    html = (out / "whatif.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html


def test_whatif_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(ROOT / "deploy" / "make-run.yaml")
    assert main(["whatif", str(tmp_path / "missing.jsonl"), "--config", config, "--config", config]) == 2
    assert main(["whatif", str(tmp_path / "missing.jsonl"), "--config", config]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "no such file" in err[0] and "at least twice" in err[1]
    source, out = tmp_path / "in.jsonl", tmp_path / "a-file"
    source.write_text("\n")
    out.write_text("not a folder\n")
    assert main(["whatif", str(source), "--config", config, "--config", config, "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"collections whatif: --out {out} is a file, not a folder"
