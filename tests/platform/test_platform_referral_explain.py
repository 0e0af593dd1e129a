"""Legal's referral explanations agree with what legal published (issue 17; behaviour.md, Explanations).

A whole simulation with agencies configured (make run's configuration). For every case opened,
account placed and placement recalled, `GET /accounts/{id}/referral?as_of=D` at its `as_of` says the
same decision, and every condition of that rule held; for a sample of other closes of the same
accounts, where nothing was published, at least one condition did not hold. Through the HTTP API
on the run's own state, so routing, the 404 and the 422 are the ones a person gets.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from collections_events.config import load_config
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.database import Database
from collections_legal.adapters.spec import SPEC
from collections_platform.embedded import close_embedded, sqlite_url
from collections_platform.run import simulate
from collections_platform.simulation.portfolio import PortfolioSettings

ROOT = Path(__file__).resolve().parents[2]
DECIDED = {"legal.case_opened": "referral", "legal.account_placed": "placement", "legal.placement_recalled": "recall"}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _held(conditions: list[dict[str, Any]]) -> bool:
    return all(c["held"] for c in conditions)


async def test_every_referral_placement_and_recall_is_explained_alike(tmp_path: Path) -> None:
    config = load_config(ROOT / "deploy" / "make-run.yaml")
    run = await simulate(PortfolioSettings(seed=11, accounts=220, days=130), config, tmp_path)
    await close_embedded(run.platform)
    inputs, outputs = _lines(tmp_path / "input.jsonl"), _lines(tmp_path / "output.jsonl")
    real_ids = {e["id"] for e in inputs} | {e["id"] for e in outputs}
    closes = sorted({e["data"]["as_of"] for e in inputs if e["type"] == "day.closed"})
    decided: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for e in outputs:
        if e["type"] in DECIDED:
            decided[(e["data"]["account_id"], e["data"]["as_of"])][DECIDED[e["type"]]] = e
    kinds = {kind for found in decided.values() for kind in found}
    assert kinds == {"referral", "placement", "recall"}, kinds
    accounts = sorted({account for account, _ in decided})
    rng = random.Random(3)
    undecided = [(a, d) for a in accounts for d in rng.sample(closes, 6) if (a, d) not in decided]

    runtime = ServiceRuntime(SPEC, Database(sqlite_url(tmp_path, "legal")), config, record_metrics=False)
    transport = httpx.ASGITransport(app=SPEC.create_api(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://legal") as client:
            for (account, as_of), found in sorted(decided.items()):
                answer = await client.get(f"/accounts/{account}/referral", params={"as_of": as_of})
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert set(body["because"]) <= real_ids
                referral, placement = body["referral"], body["placement"]
                if "referral" in found:
                    assert referral["decision"] == "case_opened" and _held(referral["conditions"]), body
                    assert referral["case_id"] == found["referral"]["data"]["case_id"]
                    assert referral["because"] == [found["referral"]["id"]]
                else:
                    assert referral["decision"] == "not_referred" and not _held(referral["conditions"]), body
                if "placement" in found:
                    assert placement["decision"] == "placed" and _held(placement["conditions"]), body
                    assert placement["placement_id"] == found["placement"]["data"]["placement_id"]
                else:
                    assert placement["decision"] == "not_placed" and not _held(placement["conditions"]), body
                if "recall" in found:
                    recall = placement["recall"]
                    first = next(c["condition"] for c in recall["conditions"] if c["held"])
                    assert (recall["decision"], recall["reason"], first) == ("recalled",) + (
                        found["recall"]["data"]["reason"],
                    ) * 2, body
            for account, as_of in undecided:
                body = (await client.get(f"/accounts/{account}/referral", params={"as_of": as_of})).json()
                assert body["referral"]["decision"] == "not_referred", body
                assert not _held(body["referral"]["conditions"]), body
                assert body["placement"]["decision"] == "not_placed", body
                assert not _held(body["placement"]["conditions"]), body
                if body["placement"]["recall"]["conditions"]:
                    assert body["placement"]["recall"]["decision"] == "kept"
                    assert not any(c["held"] for c in body["placement"]["recall"]["conditions"]), body
            unknown = await client.get("/accounts/nobody/referral", params={"as_of": closes[0]})
            assert (unknown.status_code, unknown.json()) == (404, {"detail": "unknown account nobody"})
            not_closed = await client.get(f"/accounts/{accounts[0]}/referral", params={"as_of": "1999-01-01"})
            assert not_closed.status_code == 422 and "not a closed business date" in not_closed.text
            not_a_date = await client.get(f"/accounts/{accounts[0]}/referral", params={"as_of": "soon"})
            assert not_a_date.status_code == 422
    finally:
        await runtime.db.close()
    assert len(decided) >= 10 and len(undecided) >= 50, (len(decided), len(undecided))
