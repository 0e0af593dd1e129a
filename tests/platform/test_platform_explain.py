"""Explanations agree with what was published (issue 17; behaviour.md, Explanations).

A whole simulation (smaller than make run's) with a challenger on 20 % of accounts; for every
published request and suppression, the explanation at its `as_of` gives the same decision, reason
(and attempt id), under the same arm; every `because` id is the id of a real event of the run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from collections_events.config import load_config
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_outreach.adapters.spec import SPEC
from collections_outreach.app.explain import explain_at, refold
from collections_outreach.app.inputs import read_inputs
from collections_platform.embedded import close_embedded, sqlite_url
from collections_platform.run import simulate
from collections_platform.simulation.portfolio import PortfolioSettings

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def test_every_published_decision_is_explained_alike(tmp_path: Path) -> None:
    config = load_config(ROOT / "deploy" / "make-run.yaml")
    run = await simulate(PortfolioSettings(seed=11, accounts=250, days=100), config, tmp_path)
    await close_embedded(run.platform)
    inputs, outputs = _lines(tmp_path / "input.jsonl"), _lines(tmp_path / "output.jsonl")
    real_ids = {e["id"] for e in inputs} | {e["id"] for e in outputs}
    published: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for e in outputs:
        if e["type"] in ("outreach.contact_requested", "outreach.contact_suppressed"):
            d = e["data"]
            published[d["account_id"]][(d["as_of"], d["step"])] = {"type": e["type"], **d}
    assert sum(len(v) for v in published.values()) > 2000
    db = Database(sqlite_url(tmp_path, "outreach"))
    runtime = ServiceRuntime(SPEC, db, config, record_metrics=False)
    checked = 0
    arms = set()
    try:
        for account, decisions in published.items():
            async with db.transaction() as session:
                rows = await read_inputs(session, account)
            feds = await refold(runtime.spec, config, account, rows)
            for as_of in sorted({d for d, _ in decisions}):
                explained = explain_at(feds, account, date.fromisoformat(as_of), config)
                by_step = {s["step"]: s for s in explained["steps"]}
                for (day, step), p in decisions.items():
                    if day != as_of:
                        continue
                    line = by_step[step]
                    assert explained["strategy"] == p["strategy"]
                    if p["type"] == "outreach.contact_requested":
                        assert (line["decision"], line["attempt_id"]) == ("requested", p["attempt_id"])
                    else:
                        assert (line["decision"], line["reason"]) == ("suppressed", p["reason"]), (account, as_of)
                    assert set(line["because"]) <= real_ids
                    assert line["because"], line
                    checked += 1
                arms.add(explained["strategy"])
                for line in explained["steps"]:
                    assert set(line["because"]) <= real_ids
    finally:
        await db.close()
    assert checked == sum(len(v) for v in published.values())
    assert arms == {"champion", "early-calls"}
