"""`collections replay` on the agency story (tests/e2e/agency_story.py): placement by the hash rule,
recall for each reason with what was collected, the `placed` hold, conduct breaches in the spec's
order; and a malformed placement config stops the start with one line naming the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from collections_events.audit_chain import verify_chain
from collections_events.testing import import_file

CLI = [sys.executable, "-m", "collections_platform.cli"]
story = import_file(Path(__file__).parents[1] / "e2e" / "agency_story.py", "agency_story")


def replay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "replay", *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    base = tmp_path_factory.mktemp("agencies")
    source = story.write_story(base / "story.jsonl")
    config = base / "config.yaml"
    config.write_text(yaml.safe_dump(story.CONFIG), encoding="utf-8")
    done = replay(source, "--out", base / "out.jsonl", "--config", config)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in (base / "out.jsonl").read_text(encoding="utf-8").splitlines()]


def of_type(events: list[dict[str, Any]], type_name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == type_name]


def test_every_account_is_placed_once_with_the_agency_the_hash_gives(output: list[dict[str, Any]]) -> None:
    placed = of_type(output, "legal.account_placed")
    assert [p["account_id"] for p in placed] == list(story.ACCOUNTS)
    for p in placed:
        assert p["agency_id"] == story.agency_of(p["account_id"])
        assert (p["as_of"], p["dpd"], p["past_due_minor"], p["recall_on"]) == ("2026-01-25", 20, 10_000, "2026-02-09")
    assert not of_type(output, "legal.case_opened")


def test_recalls_give_their_reason_collected_and_commission(output: list[dict[str, Any]]) -> None:
    recalls = {r["account_id"]: r for r in of_type(output, "legal.placement_recalled")}
    assert {a: (r["as_of"], r["reason"]) for a, r in recalls.items()} == {
        "AG-1": ("2026-02-09", "expired"),
        "AG-2": ("2026-02-02", "cured"),
        "AG-3": ("2026-01-28", "dispute"),
        "AG-4": ("2026-02-09", "expired"),
        "AG-5": ("2026-02-09", "expired"),
    }
    cured = recalls["AG-2"]
    pct = {a["id"]: a["commission_pct"] for a in story.AGENCIES}[cured["agency_id"]]
    assert cured["collected_minor"] == 10_000  # the reversed 4,000 does not count
    assert cured["commission_minor"] == int(10_000 * pct // 100)
    placements = {p["account_id"]: p["placement_id"] for p in of_type(output, "legal.account_placed")}
    assert all(recalls[a]["placement_id"] == placements[a] for a in recalls)


def test_outreach_holds_from_the_close_after_placement_to_the_recalls(output: list[dict[str, Any]]) -> None:
    held = sorted(
        {
            s["as_of"]
            for s in of_type(output, "outreach.contact_suppressed")
            if s["reason"] == "placed" and s["account_id"] == "AG-1"
        }
    )
    assert held[0] == "2026-01-26" and held[-1] == "2026-02-09"
    requested_after = [
        r
        for r in of_type(output, "outreach.contact_requested")
        if r["account_id"] == "AG-1" and r["as_of"] > "2026-02-09"
    ]
    assert requested_after, "treatment resumes after the recall"
    in_hold = [
        r
        for r in of_type(output, "outreach.contact_requested")
        if r["account_id"] == "AG-1" and "2026-01-26" <= r["as_of"] <= "2026-02-09"
    ]
    assert in_hold == []


def test_agency_calls_are_on_the_chain_and_breaches_come_in_order(output: list[dict[str, Any]]) -> None:
    records = [r for r in of_type(output, "outreach.contact_recorded") if r["account_id"] == "AG-4"]
    assert verify_chain(records).ok
    agency = [r for r in records if "agency_id" in r]
    assert len(agency) == 4 and all(r["attempt_id"] is None for r in agency)
    assert all("agency_id" not in r for r in records if r not in agency)
    breaches = [(b["record_id"], b["rule"]) for b in of_type(output, "outreach.conduct_breach")]
    late, fourth = agency[2]["record_id"], agency[3]["record_id"]
    assert breaches == [(late, "outside_window"), (fourth, "rpc_cooldown"), (fourth, "frequency_cap")]


@pytest.mark.parametrize(
    ("placement", "named"),
    [
        (
            {"agencies": [{"id": "a", "share_pct": 30, "commission_pct": 10}]},
            "legal.placement.agencies: share_pct must sum to 100",
        ),
        (
            {
                "agencies": [
                    {"id": "a", "share_pct": 50, "commission_pct": 10},
                    {"id": "a", "share_pct": 50, "commission_pct": 10},
                ]
            },
            "legal.placement.agencies: agency ids must be unique",
        ),
        (
            {"agencies": [{"id": "a", "share_pct": 100, "commission_pct": 100.5}]},
            "legal.placement.agencies.0.commission_pct",
        ),
        ({"days": 0}, "legal.placement.days"),
    ],
)
def test_a_malformed_placement_config_stops_the_start_naming_the_key(
    tmp_path: Path, placement: dict[str, Any], named: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"legal": {"placement": placement}}), encoding="utf-8")
    source = tmp_path / "in.jsonl"
    source.write_text("", encoding="utf-8")
    done = replay(source, "--out", tmp_path / "out.jsonl", "--config", config)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], done.stderr
