"""The run's figures come from events alone; the operations page is self-contained SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from collections_platform.ops_page import render_html
from collections_platform.summary import Summary

BUCKETS = ["current", "1-29", "30-59", "60-89"]


def bucket(summary: Summary, account: str, to: str, as_of: str) -> None:
    summary.observe(
        "delinquency.bucket_changed",
        {"account_id": account, "as_of": as_of, "to_bucket": to, "from_bucket": "x", "dpd": 1},
    )


def test_figures_from_events() -> None:
    s = Summary(BUCKETS)
    for account, currency in (("a", "USD"), ("b", "CNY"), ("c", "USD")):
        s.observe_inbound({"type": "account.opened", "data": {"account_id": account, "currency": currency}})
    bucket(s, "a", "1-29", "2026-01-30")
    bucket(s, "b", "1-29", "2026-01-30")
    s.close_day(date(2026, 1, 30))
    bucket(s, "a", "30-59", "2026-02-27")
    bucket(s, "b", "current", "2026-02-27")
    s.close_day(date(2026, 2, 27))
    s.close_day(date(2026, 3, 2))
    s.observe("outreach.arrangement_made", {"account_id": "b", "arrangement_id": "p1", "kind": "plan"})
    s.observe("outreach.arrangement_completed", {"account_id": "b", "arrangement_id": "p1", "kind": "plan"})
    s.observe("ledger.waiver_posted", {"account_id": "b", "amount_minor": 700})
    s.observe("outreach.contact_suppressed", {"account_id": "a", "reason": "no_consent"})
    f = s.figures()
    assert f["buckets"] == {"current": 2, "1-29": 0, "30-59": 1, "60-89": 0}
    one_to_29 = next(r for r in f["roll_rates"] if r["from"] == "1-29")
    assert one_to_29 == {"from": "1-29", "accounts": 2, "roll_forward": 0.5, "cure": 0.5}
    assert f["arrangements"]["plan"] == {"made": 1, "completed": 1, "broken": 0}
    assert f["forgiven_minor"] == {"CNY": 700}
    assert f["cure"]["with_plan"] == 1.0 and f["cure"]["without_plan"] == 0.0
    assert f["suppressions"] == {"no_consent": 1}


def test_operations_page_is_self_contained() -> None:
    s = Summary(BUCKETS)
    s.observe_inbound({"type": "account.opened", "data": {"account_id": "a", "currency": "USD"}})
    s.observe(
        "outreach.contact_recorded", {"account_id": "a", "kind": "result", "channel": "sms", "outcome": "delivered"}
    )
    html = render_html(s.figures(), [("ledger", "http://127.0.0.1:8001")])
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert svgs
    for svg in svgs:
        ET.fromstring(svg)
    assert "<script" not in html
    assert set(re.findall(r"https?://[^\"'/]+", html)) == {"http://127.0.0.1:8001"}
