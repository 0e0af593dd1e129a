"""The operations page (127.0.0.1:8000): the run's figures as charts, in one self-contained HTML page.

Inline SVG only: no script, no CDN, no external asset (these machines have no internet).
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from collections_events.offline_docs import offline_app
from collections_platform.ops_page_agencies import agency_sections
from collections_platform.report import money, pct

_COLOURS = ("#2f6f9f", "#d9822b", "#3f9f5f", "#b33f40", "#7f5fa8", "#8c6d3f", "#c65fa0", "#6f6f6f", "#2fa0a0")


def bar_chart(title: str, rows: list[tuple[str, float]], *, fmt: str = "{:,.0f}") -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per (label, value) row."""
    if not rows:
        return f"<section><h2>{escape(title)}</h2><p class=empty>nothing yet</p></section>"
    top = max(v for _, v in rows) or 1
    bar_h, gap, label_w, width = 20, 6, 190, 640
    height = len(rows) * (bar_h + gap)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = i * (bar_h + gap)
        w = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_COLOURS[i % len(_COLOURS)]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return f"<section><h2>{escape(title)}</h2>{''.join(parts)}</section>"


def stacked_chart(title: str, groups: dict[str, dict[str, int]]) -> str:
    """One stacked horizontal bar per group (e.g. a channel), one segment per key (e.g. an outcome)."""
    if not groups:
        return f"<section><h2>{escape(title)}</h2><p class=empty>nothing yet</p></section>"
    keys = sorted({k for g in groups.values() for k in g})
    colour = {k: _COLOURS[i % len(_COLOURS)] for i, k in enumerate(keys)}
    top = max(sum(g.values()) for g in groups.values()) or 1
    bar_h, gap, label_w, width = 22, 8, 90, 640
    height = len(groups) * (bar_h + gap)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (name, counts) in enumerate(groups.items()):
        y, x = i * (bar_h + gap), float(label_w)
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        for key in keys:
            w = (width - label_w - 20) * counts.get(key, 0) / top
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour[key]}">'
                    f"<title>{escape(key)}: {counts[key]:,}</title></rect>"
                )
                x += w
    parts.append("</svg>")
    legend = " ".join(f'<span class=key style="background:{colour[k]}"></span>{escape(k)}' for k in keys)
    return f"<section><h2>{escape(title)}</h2>{''.join(parts)}<p class=legend>{legend}</p></section>"


def render_html(figures: dict[str, Any], apis: list[tuple[str, str]]) -> str:
    """The whole page for `figures` (Summary.figures()); `apis` lists (service, base URL)."""
    f = figures
    rolls = [(r["from"], (r["roll_forward"] or 0) * 100) for r in f["roll_rates"] if r["accounts"]]
    deals = [
        ("promises recorded", f["promises"]["recorded"]),
        ("promises kept", f["promises"]["kept"]),
        ("promises broken", f["promises"]["broken"]),
        ("plans made", f["arrangements"]["plan"]["made"]),
        ("plans completed", f["arrangements"]["plan"]["completed"]),
        ("plans broken", f["arrangements"]["plan"]["broken"]),
        ("settlements made", f["arrangements"]["settlement"]["made"]),
        ("settlements completed", f["arrangements"]["settlement"]["completed"]),
        ("cases opened", f["cases"]["opened"]),
        ("cases closed", f["cases"]["closed"]),
    ]
    cure = f["cure"]
    cures = [("with a plan", (cure["with_plan"] or 0) * 100), ("without", (cure["without_plan"] or 0) * 100)]
    forgiven = ", ".join(f"{escape(c)} {money(m)}" for c, m in f["forgiven_minor"].items()) or "none"
    links = "".join(
        f'<li>{escape(name)}: <a href="{escape(url)}/docs">{escape(url)}/docs</a></li>' for name, url in apis
    )
    charts = "".join(
        [
            bar_chart("Accounts per bucket", list(f["buckets"].items())),
            bar_chart("Roll forward, month to month (%)", rolls, fmt="{:.1f} %"),
            stacked_chart("Contact results by channel", f["contact_outcomes"]),
            bar_chart("Contact requests by channel", list(f["contacts_requested"].items())),
            bar_chart("Suppressions by reason", list(f["suppressions"].items())),
            bar_chart("Promises, arrangements, cases", deals),
            bar_chart("Cure rate of ever-delinquent accounts (%)", cures, fmt="{:.1f} %"),
            agency_sections(f),
            *_arm_charts(f.get("arms", {})),
        ]
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Collections: operations</title>
<style>
body{{font:14px system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}}
main{{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:1.5rem}}
section{{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}} h2{{font-size:1rem}}
svg text{{font-size:12px;fill:#222}} .key{{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em}}
.empty{{color:#888}} dl{{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}}
</style></head><body>
<h1>Collections platform: operations</h1>
<dl><dt>accounts</dt><dd>{f["accounts"]:,}</dd><dt>business days</dt><dd>{f["days"]}</dd>
<dt>events fed / published</dt><dd>{f["events"]["inbound"]:,} / {f["events"]["published"]:,}</dd>
<dt>charged off</dt><dd>{f["charged_off"]:,}</dd><dt>forgiven by settlements</dt><dd>{forgiven}</dd>
<dt>cure rate with / without a plan</dt><dd>{pct(cure["with_plan"])} / {pct(cure["without_plan"])}</dd>
<dt>rejected events</dt><dd>{sum(f["rejected"].values()):,}</dd></dl>
<p>APIs:</p><ul>{links}</ul><p><a href="/summary.json">summary.json</a></p>
<main>{charts}</main></body></html>"""


def _arm_charts(arms: dict[str, dict[str, Any]]) -> list[str]:
    """The experiment arms side by side: contacts per channel per treated account, and the share current."""
    if not arms:
        return []
    per_account = {
        arm: {c: round(100 * n / max(a["accounts_treated"], 1)) for c, n in a["contacts_requested"].items()}
        for arm, a in arms.items()
    }
    current = [(arm, (a["current_at_end"] or 0) * 100) for arm, a in arms.items()]
    return [
        stacked_chart("Experiment arms: contact requests per 100 treated accounts, by channel", per_account),
        bar_chart("Experiment arms: treated accounts current at the end (%)", current, fmt="{:.1f} %"),
    ]


def ops_app(figures: dict[str, Any], apis: list[tuple[str, str]]) -> FastAPI:
    """The operations page app: `/` (HTML charts), `/summary.json` (the figures), `/health`."""
    app = offline_app(title="Collections operations", version="1")  # /docs and /redoc with no CDN
    page = render_html(figures, apis)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/summary.json")
    async def summary() -> dict[str, Any]:
        return figures

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
