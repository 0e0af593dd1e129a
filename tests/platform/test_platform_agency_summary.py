"""Per-agency figures from events alone, the operations page's agency charts, and a simulated run in
which the lender's two agencies get accounts, collect, and now and then break a rule."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from collections_platform.ops_page import render_html
from collections_platform.summary import Summary

CLI = [sys.executable, "-m", "collections_platform.cli"]


def test_agency_figures_and_their_charts() -> None:
    s = Summary(["current", "1-29"])
    for account in ("a", "b", "c"):
        s.observe_inbound({"type": "account.opened", "data": {"account_id": account, "currency": "USD"}})
    for account, agency in (("a", "north"), ("b", "north"), ("c", "south")):
        s.observe("legal.account_placed", {"account_id": account, "agency_id": agency, "placement_id": account})
    s.observe(
        "legal.placement_recalled",
        {
            "account_id": "a",
            "agency_id": "north",
            "reason": "cured",
            "collected_minor": 12_345,
            "commission_minor": 2_469,
        },
    )
    s.observe(
        "outreach.contact_recorded",
        {"account_id": "c", "kind": "result", "channel": "call", "outcome": "busy", "agency_id": "south"},
    )
    s.observe("outreach.contact_recorded", {"account_id": "c", "kind": "result", "channel": "call", "outcome": "busy"})
    for rule in ("frequency_cap", "outside_window"):
        s.observe("outreach.conduct_breach", {"account_id": "c", "agency_id": "south", "record_id": "r", "rule": rule})
    f = s.figures()["agencies"]
    assert f["north"] == {
        "placed": 2,
        "open": 1,
        "recalled_by_reason": {"cured": 1},
        "collected_minor": {"USD": 12_345},
        "commission_minor": {"USD": 2_469},
        "contacts": 0,
        "breaches_by_rule": {},
    }
    assert f["south"]["breaches_by_rule"] == {"outside_window": 1, "frequency_cap": 1}  # the spec's order
    assert f["south"]["contacts"] == 1
    html = render_html(s.figures(), [])
    assert "Agency conduct breaches by rule" in html and "Agency placements" in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)
    assert "<script" not in html


def test_without_agencies_the_page_has_no_agency_section() -> None:
    html = render_html(Summary(["current"]).figures(), [])
    assert "Agenc" not in html


def test_the_simulated_lenders_agencies_place_collect_and_breach(tmp_path: Path) -> None:
    state = tmp_path / "state"
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [
            *CLI,
            "run",
            "--accounts",
            "400",
            "--days",
            "180",
            "--seed",
            "7",
            "--no-serve",
            "--state",
            str(state),
            "--json",
            str(figures_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    agencies = json.loads(figures_path.read_text())["agencies"]
    assert set(agencies) == {"north", "south"}
    assert sum(a["placed"] for a in agencies.values()) > 0
    assert any(a["recalled_by_reason"] for a in agencies.values())
    assert any(a["breaches_by_rule"] for a in agencies.values())
    assert "Agencies" in done.stdout
