"""The operations page (issue 15, Operators' tools): it says the business date and time it describes,
gives a key one colour across charts, numbers its stacked bars, keeps each quantity on its own scale,
and puts figures such as cure rates in context; served for real and drawn by headless Chromium."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from collections_events.testing import served
from collections_platform.ops_page import BAR, ops_app, render_html
from collections_platform.summary import Summary

FIRST, LAST = date(2026, 1, 26), date(2026, 2, 6)


def _figures() -> dict[str, Any]:
    s = Summary(["current", "1-29", "30-59"])
    for account, currency in (("a", "USD"), ("b", "USD"), ("c", "EUR"), ("d", "USD")):
        s.observe_inbound({"type": "account.opened", "data": {"account_id": account, "currency": currency}})
    s.observe("delinquency.bucket_changed", {"account_id": "a", "to_bucket": "1-29"})
    s.observe("delinquency.bucket_changed", {"account_id": "b", "to_bucket": "30-59"})
    s.observe("outreach.contact_requested", {"account_id": "a", "channel": "sms", "strategy": "champion"})
    s.observe("outreach.contact_requested", {"account_id": "b", "channel": "call", "strategy": "early-calls"})
    for channel, outcome, n in (("call", "no_answer", 30), ("call", "answered_rpc", 4), ("sms", "delivered", 12)):
        for _ in range(n):
            s.observe(
                "outreach.contact_recorded",
                {"account_id": "a", "kind": "result", "channel": channel, "outcome": outcome},
            )
    s.observe("outreach.promise_recorded", {"account_id": "a"})
    s.observe("outreach.arrangement_made", {"account_id": "b", "arrangement_id": "p1", "kind": "plan"})
    for account, agency in (("c", "north"), ("d", "south")):
        s.observe("legal.account_placed", {"account_id": account, "agency_id": agency, "placement_id": account})
    for account, agency, reason in (("c", "north", "cured"), ("d", "south", "expired")):
        recall = {"reason": reason, "collected_minor": 5_000, "commission_minor": 900}
        s.observe("legal.placement_recalled", {"account_id": account, "agency_id": agency, **recall})
    s.observe(
        "outreach.conduct_breach", {"account_id": "d", "agency_id": "south", "record_id": "r", "rule": "frequency_cap"}
    )
    day = FIRST
    while day <= LAST:
        s.observe_inbound(
            {"type": "day.closed", "time": f"{day.isoformat()}T23:30:00Z", "data": {"as_of": day.isoformat()}}
        )
        s.close_day(day)
        day += timedelta(days=1)
    return s.figures()


def _fills(svg: str) -> list[str]:
    return re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', svg)


def test_the_figures_say_the_business_date_and_instant_they_describe() -> None:
    assert _figures()["as_of"] == {
        "business_date": "2026-02-06",
        "closed_at": "2026-02-06T23:30:00Z",
        "first_business_date": "2026-01-26",
        "month_ends": 1,
    }
    assert "No business day has closed yet" in render_html(Summary(["current"]).figures(), [])


def test_one_colour_per_meaning_numbered_stacks_one_quantity_per_scale() -> None:
    html = render_html(_figures(), [])
    sections = {m.group(1): m.group(0) for m in re.finditer(r"<section><h2>([^<]*)</h2>.*?</section>", html, re.S)}
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)
    # A plain bar chart is one quantity: one colour, the same in every such chart.
    for title in ("Accounts per bucket", "Contact requests by channel", "Cure rate of ever-delinquent accounts (%)"):
        assert set(_fills(sections[title])) == {BAR}, title
    # A segment's key has one colour on the whole page, and two keys never share one.
    colour_of: dict[str, str] = {}
    for fill, key in re.findall(r'fill="(#[0-9a-f]{6})"><title>[^<]*, ([^<:]*): ', html):
        assert colour_of.setdefault(key, fill) == fill, key
    assert len(set(colour_of.values())) == len(colour_of) and BAR not in colour_of.values()
    keys = {"no_answer", "answered_rpc", "delivered", "sms", "call", "cured", "expired", "frequency_cap"}
    assert keys <= set(colour_of)
    # Stacked bars carry their numbers: the total of each bar, a wide segment's count, every count in a table.
    results = sections["Contact results by channel"]
    assert ">34</text>" in results and ">30</text>" in results and ">12</text>" in results
    assert "<td>no_answer</td>" not in results and "<th>no_answer</th>" in results
    # Promises, plans, settlements, cases: each its own chart (scale); money one chart per currency.
    assert sections["Promises, arrangements, cases"].count("<svg") == 4
    money = sections["Collected by agencies and their commission"]
    assert money.count("<svg") == 4 and "collected (EUR)" in money and "commission (USD)" in money
    # Rates come with their populations.
    cure = sections["Cure rate of ever-delinquent accounts (%)"]
    assert "Of the 2 accounts delinquent" in cure and "with a plan (1)" in cure and "without (1)" in cure
    assert "champion (1)" in sections["Experiment arms: treated accounts current at the end (%)"]


async def test_the_served_operations_page_in_a_browser(render_page: Callable[..., Any]) -> None:
    figures = _figures()
    async with served(ops_app(figures, [("ledger", "http://127.0.0.1:8001")])) as url:
        page = await render_page(f"{url}/", wait_for="svg", count=["main svg", "main svg rect", "section"])
    page.assert_clean()
    assert "As of the close of business date 2026-02-06" in page.text
    assert "2026-02-06T23:30:00Z" in page.text and "from 2026-01-26" in page.text
    assert page.counts["main svg"] >= 14 and page.counts["main svg rect"] >= 20
    assert page.counts["section"] >= 12
    for title in ("Contact results by channel", "Promises, arrangements, cases", "Agency conduct breaches by rule"):
        assert title in page.text
