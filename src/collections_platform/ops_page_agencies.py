"""The operations page's agency sections: per agency, placements open and recalled by reason,
collected and commission, breaches by rule (inline SVG charts and one table; no script)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from collections_platform.report import money

if TYPE_CHECKING:
    from collections_platform.ops_page import Palette


def agency_sections(figures: dict[str, Any], palette: Palette | None = None) -> str:
    """The agency charts and table for `figures` (Summary.figures()); empty when no agency worked.

    Each quantity has its own chart (placements open now, recalls over the run, money per currency),
    and reasons and rules take their colours from the page's `palette`.
    """
    from collections_platform.ops_page import bar_chart, panels, stacked_chart

    agencies: dict[str, dict[str, Any]] = figures.get("agencies") or {}
    if not agencies:
        return ""
    recalled = {agency: a["recalled_by_reason"] for agency, a in agencies.items() if a["recalled_by_reason"]}
    breaches = {agency: a["breaches_by_rule"] for agency, a in agencies.items() if a["breaches_by_rule"]}
    currencies = sorted({c for a in agencies.values() for c in [*a["collected_minor"], *a["commission_minor"]]})
    money_panels: list[tuple[str, list[tuple[str, float]]]] = []
    for currency in currencies:
        for what, field in (("collected", "collected_minor"), ("commission", "commission_minor")):
            rows = [(agency, a[field].get(currency, 0) / 100) for agency, a in agencies.items()]
            money_panels.append((f"{what} ({currency})", rows))
    return "".join(
        [
            bar_chart("Agency placements open at the end", [(agency, a["open"]) for agency, a in agencies.items()]),
            stacked_chart("Agency placements recalled, by reason", recalled, palette=palette),
            stacked_chart("Agency conduct breaches by rule", breaches, palette=palette),
            panels(
                "Collected by agencies and their commission",
                money_panels,
                fmt="{:,.2f}",
                note="Over the whole run, in major units; each currency, collected and commission, on its own scale.",
            ),
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
