"""The summary and the operations page compare the experiment arms (issue 17; behaviour.md, Strategy
experiments): figures from the `strategy` of requests and suppressions, an inline SVG chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from collections_platform.ops_page import render_html
from collections_platform.summary import Summary


def _figures() -> dict[str, Any]:
    s = Summary(["current", "1-29"])
    for account in ("a", "b", "c"):
        s.observe_inbound({"type": "account.opened", "data": {"account_id": account, "currency": "USD"}})
        s.observe("delinquency.bucket_changed", {"account_id": account, "to_bucket": "1-29"})
    s.observe("outreach.contact_requested", {"account_id": "a", "channel": "sms", "strategy": "champion"})
    s.observe("outreach.contact_requested", {"account_id": "b", "channel": "call", "strategy": "early-calls"})
    s.observe("outreach.contact_requested", {"account_id": "c", "channel": "call", "strategy": "early-calls"})
    s.observe("outreach.contact_suppressed", {"account_id": "c", "reason": "no_consent", "strategy": "early-calls"})
    s.observe("outreach.promise_recorded", {"account_id": "b"})
    s.observe("delinquency.bucket_changed", {"account_id": "b", "to_bucket": "current"})
    return s.figures()


def test_summary_compares_the_arms() -> None:
    arms = _figures()["arms"]
    assert arms["champion"] == {
        "accounts_treated": 1,
        "contacts_requested": {"sms": 1},
        "suppressions": {},
        "promises_recorded": 0,
        "current_at_end": 0.0,
    }
    assert arms["early-calls"]["accounts_treated"] == 2
    assert arms["early-calls"]["contacts_requested"] == {"call": 2}
    assert arms["early-calls"]["suppressions"] == {"no_consent": 1}
    assert arms["early-calls"]["promises_recorded"] == 1
    assert arms["early-calls"]["current_at_end"] == 0.5


async def test_operations_page_charts_the_arms_in_a_browser(tmp_path: Path, render_page: Any) -> None:
    html = render_html(_figures(), [])
    assert "Experiment arms" in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)
    page_file = tmp_path / "ops.html"
    page_file.write_text(html, encoding="utf-8")
    page = await render_page(page_file.as_uri(), wait_for="svg")
    page.assert_clean()
    assert "early-calls" in page.text and page.screenshot
