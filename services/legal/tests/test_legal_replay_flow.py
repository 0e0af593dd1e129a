"""The whole platform on the embedded default (`collections replay`): an account that never pays is
called, referred at 90 dpd, held by outreach, cured by a payment, its case closed and the hold lifted.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from collections_events.config import parse_config
from collections_events.testing import account_opened_data
from collections_platform.replay import replay

FIRST_DUE = date(2026, 1, 10)
D90 = FIRST_DUE + timedelta(days=90)


def _input(path: Path) -> None:
    lines = []

    def event(type_name: str, subject: str, data: dict, time: str = "2026-01-01T12:00:00Z") -> None:
        lines.append(
            {
                "specversion": "1.0",
                "id": f"in-{len(lines) + 1:04d}",
                "source": "tests",
                "type": type_name,
                "subject": subject,
                "time": time,
                "datacontenttype": "application/json",
                "data": data,
            }
        )

    def close(day: date) -> None:
        event("day.closed", "clock", {"as_of": day.isoformat()}, time=f"{day.isoformat()}T16:00:00Z")

    event("account.opened", "A1", account_opened_data("A1"))
    due = {"account_id": "A1", "due_id": "D1", "due_date": FIRST_DUE.isoformat(), "amount_due_minor": 5000}
    event("payment.due", "A1", {**due, "statement_balance_minor": 50000})
    for i in range(100):
        close(FIRST_DUE + timedelta(days=i))
    payment = {"account_id": "A1", "payment_id": "P1", "amount_minor": 5000, "received_on": "2026-04-20"}
    event("payment.received", "A1", payment)
    second = {"account_id": "A1", "due_id": "D2", "due_date": "2026-04-25", "amount_due_minor": 700}
    event("payment.due", "A1", {**second, "statement_balance_minor": 700})
    for i in range(100, 118):
        close(FIRST_DUE + timedelta(days=i))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


async def test_never_pays_referred_held_cured_closed_released(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _input(source)
    # Calls every day from 10 dpd with no upper bound, so the legal hold is what stops them.
    config = parse_config(
        {
            "outreach": {
                "strategy": [{"id": "calls", "channel": "call", "template": "t", "from_dpd": 10, "every_days": 1}]
            }
        }
    )
    await replay(source, out, config, None)
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    [opened] = [e for e in events if e["type"] == "legal.case_opened"]
    assert opened["data"]["as_of"] == D90.isoformat() and opened["data"]["dpd"] == 90
    requested_before = [
        e for e in events if e["type"] == "outreach.contact_requested" and e["data"]["as_of"] < D90.isoformat()
    ]
    assert opened["data"]["contact_attempts"] == len(requested_before) == 80

    held = [e["data"]["as_of"] for e in events if e["type"] == "outreach.contact_suppressed"]
    assert held and all(
        e["data"]["reason"] == "legal_hold" for e in events if e["type"] == "outreach.contact_suppressed"
    )
    assert min(held) == (D90 + timedelta(days=1)).isoformat()
    calls_while_open = [
        e
        for e in events
        if e["type"] == "outreach.contact_requested" and D90.isoformat() < e["data"]["as_of"] < "2026-04-26"
    ]
    assert calls_while_open == []

    [closed] = [e for e in events if e["type"] == "legal.case_closed"]
    assert closed["data"] == {
        "case_id": opened["data"]["case_id"],
        "account_id": "A1",
        "as_of": "2026-04-19",
        "reason": "cured",
    }
    # The hold is lifted: the next episode is called again, not suppressed.
    after = [
        e for e in events if e["type"].startswith("outreach.contact_") and e["data"].get("as_of", "") > "2026-04-26"
    ]
    assert after and all(e["type"] != "outreach.contact_suppressed" for e in after)
    assert not [e for e in events if e["type"] == "system.event_rejected"]
