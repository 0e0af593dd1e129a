"""The operations page (127.0.0.1:8000): the run's figures as charts, in one self-contained HTML page.

Inline SVG only: no script, no CDN, no external asset (these machines have no internet). What a
person reads it by (issue 15): the business date and instant of the last close it describes at the top;
a plain bar chart is one quantity in one colour (`BAR`), and a stacked chart's keys (outcomes, channels,
reasons) take their colours from one `Palette` per page, so a colour means one thing everywhere; stacked
bars carry their totals and counts; never two quantities on one scale (`panels`); rates with the
populations they are of.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from collections_events.offline_docs import offline_app
from collections_platform.ops_page_agencies import agency_sections
from collections_platform.report import money, pct

BAR = "#4f6d8a"
"""The one colour of a plain bar chart: its bars are one quantity, so their colour means nothing more."""

_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip


class Palette:
    """One colour per meaning on a page: a key (an outcome, a channel, a reason) gets its colour at its
    first use and keeps it in every chart of the page, and two keys share none (while 20 colours last)."""

    def __init__(self) -> None:
        self._of: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        if key not in self._of:
            self._of[key] = _COLOURS[len(self._of) % len(_COLOURS)]
        return self._of[key]


def _ink(fill: str) -> str:
    """Text colour readable on `fill` (#rrggbb): dark on light colours, white on dark ones."""
    r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "#222" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#fff"


def _section(title: str, body: str, note: str = "") -> str:
    text = f"<p class=note>{escape(note)}</p>" if note else ""
    return f"<section><h2>{escape(title)}</h2>{body}{text}</section>"


def bars_svg(rows: list[tuple[str, float]], *, fmt: str = "{:,.0f}", label_w: int = 190) -> str:
    """Horizontal bars as inline SVG, one per (label, value) row, each with its number, on one scale."""
    top = max((v for _, v in rows), default=0) or 1
    bar_h, gap, width = 20, 6, 640
    height = len(rows) * (bar_h + gap)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = i * (bar_h + gap)
        w = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{BAR}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, rows: list[tuple[str, float]], *, fmt: str = "{:,.0f}", note: str = "") -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per (label, value) row, all one colour."""
    if not rows:
        return _section(title, "<p class=empty>nothing yet</p>")
    return _section(title, bars_svg(rows, fmt=fmt), note)


def panels(
    title: str, charts: list[tuple[str, list[tuple[str, float]]]], *, fmt: str = "{:,.0f}", note: str = ""
) -> str:
    """Several small bar charts under one title, each quantity on its own scale (never two on one)."""
    body = "".join(
        f"<h3>{escape(name)}</h3>"
        + (bars_svg(rows, fmt=fmt, label_w=120) if rows else "<p class=empty>nothing yet</p>")
        for name, rows in charts
    )
    return _section(title, body, note)


def stacked_chart(
    title: str, groups: dict[str, dict[str, int]], *, palette: Palette | None = None, note: str = ""
) -> str:
    """One stacked horizontal bar per group (e.g. a channel), one segment per key (e.g. an outcome).

    Each bar ends with its total; a segment wide enough shows its count, and a table under the chart
    gives every count. Keys take their colours from `palette` (the page's, so a key has one colour
    across charts); without one, from a palette of this chart alone.
    """
    if not groups:
        return _section(title, "<p class=empty>nothing yet</p>")
    keys = sorted({k for g in groups.values() for k in g})
    colour_of = palette or Palette()
    colour = {k: colour_of(k) for k in keys}
    top = max(sum(g.values()) for g in groups.values()) or 1
    bar_h, gap, label_w, width = 22, 8, 110, 640
    height = len(groups) * (bar_h + gap)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (name, counts) in enumerate(groups.items()):
        y, x = i * (bar_h + gap), float(label_w)
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        for key in keys:
            value = counts.get(key, 0)
            w = (width - label_w - 70) * value / top
            if w <= 0:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour[key]}">'
                f"<title>{escape(name)}, {escape(key)}: {value:,}</title></rect>"
            )
            if w >= 7 * len(f"{value:,}") + 6:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 16}" text-anchor="middle" '
                    f'style="fill:{_ink(colour[key])}">{value:,}</text>'
                )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 16}">{sum(counts.values()):,}</text>')
    parts.append("</svg>")
    legend = " ".join(f'<span class=key style="background:{colour[k]}"></span>{escape(k)}' for k in keys)
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{escape(name)}</td>{''.join(f'<td>{counts.get(k, 0):,}</td>' for k in keys)}"
        f"<td>{sum(counts.values()):,}</td></tr>"
        for name, counts in groups.items()
    )
    table = f"<details><summary>every count</summary><table><tr><th></th>{head}<th>total</th></tr>{rows}</table>"
    return _section(title, f"{''.join(parts)}<p class=legend>{legend}</p>{table}</details>", note)


def as_of_text(figures: dict[str, Any]) -> str:
    """What the page describes: the business date of the run's last close and that close's instant."""
    a = figures.get("as_of") or {}
    if not a.get("business_date"):
        return "No business day has closed yet: the figures describe the platform before its first close."
    closed = f" (its <code>day.closed</code> at {escape(a['closed_at'])})" if a.get("closed_at") else ""
    return (
        f"As of the close of business date <b class=asof>{escape(a['business_date'])}</b>{closed}: "
        f"{figures['days']} business days closed, from {escape(a['first_business_date'])}. "
        "Computed once when the run ended; this page does not change while it is served."
    )


def render_html(figures: dict[str, Any], apis: list[tuple[str, str]]) -> str:
    """The whole page for `figures` (Summary.figures()); `apis` lists (service, base URL)."""
    f = figures
    cure = f["cure"]
    forgiven = ", ".join(f"{escape(c)} {money(m)}" for c, m in f["forgiven_minor"].items()) or "none"
    links = "".join(
        f'<li>{escape(name)}: <a href="{escape(url)}/docs">{escape(url)}/docs</a></li>' for name, url in apis
    )
    charts = _charts(f)
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Collections: operations</title><link rel=icon href="data:,">
<style>
body{{font:14px system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}}
main{{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:1.5rem}}
section{{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}} h2{{font-size:1rem}} h3{{font-size:.9rem}}
svg text{{font-size:12px;fill:#222}} .key{{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em}}
.empty{{color:#888}} dl{{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}}
.note{{color:#555;font-size:12px;max-width:640px}} details{{font-size:12px;margin-bottom:.5rem}}
td,th{{padding:0 .5rem;text-align:right}} td:first-child,th:first-child{{text-align:left}}
p.asof{{background:#eef3f8;padding:.5rem 1rem;border-radius:6px}}
</style></head><body>
<h1>Collections platform: operations</h1>
<p class=asof>{as_of_text(f)}</p>
<dl><dt>accounts</dt><dd>{f["accounts"]:,}</dd><dt>business days</dt><dd>{f["days"]}</dd>
<dt>events fed / published</dt><dd>{f["events"]["inbound"]:,} / {f["events"]["published"]:,}</dd>
<dt>charged off</dt><dd>{f["charged_off"]:,}</dd><dt>forgiven by settlements</dt><dd>{forgiven}</dd>
<dt>cure rate with / without a plan</dt><dd>{pct(cure["with_plan"])} of {cure["with_plan_accounts"]:,} /
{pct(cure["without_plan"])} of {cure["without_plan_accounts"]:,} ever-delinquent accounts</dd>
<dt>rejected events</dt><dd>{sum(f["rejected"].values()):,}</dd></dl>
<p>APIs:</p><ul>{links}</ul><p><a href="/summary.json">summary.json</a></p>
<main>{charts}</main></body></html>"""


def _deal_panels(f: dict[str, Any]) -> list[tuple[str, list[tuple[str, float]]]]:
    """Promises, plans, settlements and cases: each kind its own panel (its own scale)."""
    p, plan, settlement, cases = f["promises"], f["arrangements"]["plan"], f["arrangements"]["settlement"], f["cases"]
    return [
        ("Promises to pay", [("recorded", p["recorded"]), ("kept", p["kept"]), ("broken", p["broken"])]),
        ("Payment plans", [(k, plan[k]) for k in ("made", "completed", "broken")]),
        ("Settlements", [(k, settlement[k]) for k in ("made", "completed", "broken")]),
        ("Legal cases", [("opened", cases["opened"]), ("closed", cases["closed"])]),
    ]


def _charts(f: dict[str, Any]) -> str:
    """Every chart of the page, in reading order (one palette: one colour per meaning)."""
    palette = Palette()
    month_ends = (f.get("as_of") or {}).get("month_ends", 0)
    rolls = [
        (f"{r['from']} ({r['accounts']:,})", (r["roll_forward"] or 0) * 100) for r in f["roll_rates"] if r["accounts"]
    ]
    deals = _deal_panels(f)
    cure = f["cure"]
    cures = [
        (f"with a plan ({cure['with_plan_accounts']:,})", (cure["with_plan"] or 0) * 100),
        (f"without ({cure['without_plan_accounts']:,})", (cure["without_plan"] or 0) * 100),
    ]
    return "".join(
        [
            bar_chart(
                "Accounts per bucket",
                list(f["buckets"].items()),
                note=f"Each of the {f['accounts']:,} accounts in its bucket after the last close.",
            ),
            bar_chart(
                "Roll forward, month to month (%)",
                rolls,
                fmt="{:.1f} %",
                note=(
                    "Of the accounts in a bucket at one month's last close, the share in a worse bucket at "
                    f"the next month's last close, over the run's {month_ends} month ends; in brackets the "
                    "account-months measured (a rate of few is a rate of chance)."
                ),
            ),
            stacked_chart("Contact results by channel", f["contact_outcomes"], palette=palette),
            bar_chart("Contact requests by channel", list(f["contacts_requested"].items())),
            bar_chart(
                "Suppressions by reason",
                list(f["suppressions"].items()),
                note="Strategy steps due but not taken, by the reason outreach recorded.",
            ),
            panels(
                "Promises, arrangements, cases",
                deals,
                note="Counts over the whole run; each kind on its own scale.",
            ),
            bar_chart(
                "Cure rate of ever-delinquent accounts (%)",
                cures,
                fmt="{:.1f} %",
                note=(
                    f"Of the {cure['ever_delinquent']:,} accounts delinquent at some close of the run, the share "
                    "current at the end; in brackets the accounts of each group. The groups differ in more "
                    "than the plan (who asks for one, and when): a comparison, not the plan's effect."
                ),
            ),
            agency_sections(f, palette),
            *_arm_charts(f.get("arms", {}), palette),
        ]
    )


def _arm_charts(arms: dict[str, dict[str, Any]], palette: Palette | None = None) -> list[str]:
    """The experiment arms side by side: contacts per channel per treated account, and the share current."""
    if not arms:
        return []
    per_account = {
        arm: {c: round(100 * n / max(a["accounts_treated"], 1)) for c, n in a["contacts_requested"].items()}
        for arm, a in arms.items()
    }
    current = [(f"{arm} ({a['accounts_treated']:,})", (a["current_at_end"] or 0) * 100) for arm, a in arms.items()]
    return [
        stacked_chart(
            "Experiment arms: contact requests per 100 treated accounts, by channel",
            per_account,
            palette=palette,
            note="Requests over the whole run per 100 accounts the arm treated.",
        ),
        bar_chart(
            "Experiment arms: treated accounts current at the end (%)",
            current,
            fmt="{:.1f} %",
            note="Of the accounts each arm treated (in brackets), the share current after the last close.",
        ),
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
