"""The operations page's agency sections: per agency, placements open and recalled by reason,
collected and commission, breaches by rule (inline SVG charts and one table; no script)."""

from __future__ import annotations

from html import escape
from typing import Any

from collections_platform.report import money


def agency_sections(figures: dict[str, Any]) -> str:
    """The agency charts and table for `figures` (Summary.figures()); empty when no agency worked."""
    from collections_platform.ops_page import bar_chart, stacked_chart

    agencies: dict[str, dict[str, Any]] = figures.get("agencies") or {}
    if not agencies:
        return ""
    placements = {
        agency: {"open": a["open"], **{f"recalled: {r}": n for r, n in a["recalled_by_reason"].items()}}
        for agency, a in agencies.items()
    }
    breaches = {agency: a["breaches_by_rule"] for agency, a in agencies.items() if a["breaches_by_rule"]}
    money_rows: list[tuple[str, float]] = []
    for agency, a in agencies.items():
        for currency, minor in a["collected_minor"].items():
            money_rows.append((f"{agency} collected ({currency})", minor / 100))
            money_rows.append((f"{agency} commission ({currency})", a["commission_minor"].get(currency, 0) / 100))
    return "".join(
        [
            stacked_chart("Agency placements: open, recalled by reason", placements),
            stacked_chart("Agency conduct breaches by rule", breaches),
            bar_chart("Collected by agencies and their commission", money_rows, fmt="{:,.2f}"),
            _table(agencies),
        ]
    )


def _table(agencies: dict[str, dict[str, Any]]) -> str:
    rows = []
    for agency, a in agencies.items():
        breaches = sum(a["breaches_by_rule"].values())
        rate = f"{breaches / a['contacts'] * 100:.1f} %" if a["contacts"] else "-"
        collected = ", ".join(f"{c} {money(m)}" for c, m in a["collected_minor"].items()) or "0"
        commission = ", ".join(f"{c} {money(m)}" for c, m in a["commission_minor"].items()) or "0"
        recalled = sum(a["recalled_by_reason"].values())
        rows.append(
            f"<tr><td>{escape(agency)}</td><td>{a['open']:,}</td><td>{recalled:,}</td><td>{escape(collected)}</td>"
            f"<td>{escape(commission)}</td><td>{a['contacts']:,}</td><td>{breaches:,}</td><td>{rate}</td></tr>"
        )
    head = (
        "<tr><th>agency</th><th>open</th><th>recalled</th><th>collected</th><th>commission</th>"
        "<th>contacts</th><th>breaches</th><th>breach rate</th></tr>"
    )
    return f"<section><h2>Agencies</h2><table>{head}{''.join(rows)}</table></section>"
