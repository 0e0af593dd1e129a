"""Arrangements (issue 9): declines at their edges, plans kept and broken, settlements, invalid forms."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import Harness, of_type

D0 = date(2026, 1, 10)
D1 = D0 + timedelta(days=1)
MADE = date(2026, 1, 12)
AT = "2026-01-12T02:00:00Z"  # 10:00 in Shanghai: made_on 2026-01-12


def plan(*dues: tuple[date, int], kind: str = "plan") -> dict[str, Any]:
    return {"kind": kind, "installments": [{"due_on": d.isoformat(), "amount_minor": a} for d, a in dues]}


async def delinquent(h: Harness, account: str = "A") -> None:
    await h.opened(account)
    await h.delinquent(account, D1, D0)
    await h.close(D1)


async def propose(h: Harness, arrangement: dict[str, Any], account: str = "A") -> list[Any]:
    return await h.result(account, "answered_rpc", AT, arrangement=arrangement)


def declined(out: list[Any]) -> str | None:
    found = of_type(out, "outreach.arrangement_declined")
    return found[0]["reason"] if found else None


async def test_not_delinquent(outreach: Harness) -> None:
    await outreach.opened("A")
    assert declined(await propose(outreach, plan((MADE, 100)))) == "not_delinquent"


async def test_one_at_a_time(outreach: Harness) -> None:
    await delinquent(outreach)
    assert declined(await propose(outreach, plan((MADE, 100)))) is None
    assert declined(await propose(outreach, plan((MADE, 100)))) == "arrangement_active"


@pytest.mark.parametrize(("count", "reason"), [(12, None), (13, "too_many_installments")])
async def test_installment_count_edge(outreach: Harness, count: int, reason: str | None) -> None:
    await delinquent(outreach)
    dues = [(MADE + timedelta(days=20 * n), 100) for n in range(count)]
    assert declined(await propose(outreach, plan(*dues))) == reason


@pytest.mark.parametrize(("days", "reason"), [(365, None), (366, "outside_allowed_dates")])
async def test_last_due_edge(outreach: Harness, days: int, reason: str | None) -> None:
    await delinquent(outreach)
    assert declined(await propose(outreach, plan((MADE, 100), (MADE + timedelta(days=days), 100)))) == reason


@pytest.mark.parametrize(("first", "reason"), [(MADE, None), (MADE - timedelta(days=1), "outside_allowed_dates")])
async def test_first_due_edge(outreach: Harness, first: date, reason: str | None) -> None:
    await delinquent(outreach)
    assert declined(await propose(outreach, plan((first, 100)))) == reason


@pytest.mark.parametrize(("total", "reason"), [(5000, None), (4999, "below_settlement_floor")])
async def test_settlement_floor_edge(outreach: Harness, total: int, reason: str | None) -> None:
    await delinquent(outreach)
    await outreach.due("A", "old", date(2025, 12, 10), 7000)
    await outreach.due("A", "d1", D0, 10000)  # latest due_date on or before made_on: 10000
    await outreach.due("A", "later", date(2026, 2, 10), 90000)  # after made_on: not the floor's
    assert declined(await propose(outreach, plan((MADE, total), kind="settlement"))) == reason


async def test_settlement_floor_is_zero_without_a_statement(outreach: Harness) -> None:
    await delinquent(outreach)
    assert declined(await propose(outreach, plan((MADE, 1), kind="settlement"))) is None


async def test_kept_plan_completes(outreach: Harness) -> None:
    await delinquent(outreach)
    out = await propose(outreach, plan((date(2026, 1, 20), 300), (date(2026, 2, 20), 300)))
    [made] = of_type(out, "outreach.arrangement_made")
    assert made["made_on"] == "2026-01-12" and made["total_minor"] == 600
    await outreach.payment("A", "p1", 300, date(2026, 1, 19))
    await outreach.close_range(date(2026, 1, 12), date(2026, 2, 10))
    out = await outreach.payment("A", "p2", 300, date(2026, 2, 11))
    [done] = of_type(out, "outreach.arrangement_completed")
    assert done["arrangement_id"] == made["arrangement_id"] and done["paid_minor"] == 600


async def test_plan_broken_at_due_plus_grace_not_a_day_earlier_and_contact_resumes(outreach: Harness) -> None:
    await delinquent(outreach)
    out = await propose(outreach, plan((date(2026, 1, 20), 300), (date(2026, 2, 20), 300)))
    arrangement_id = of_type(out, "outreach.arrangement_made")[0]["arrangement_id"]
    await outreach.payment("A", "p1", 200, date(2026, 1, 19))
    out = await outreach.close_range(date(2026, 1, 12), date(2026, 1, 24))
    assert of_type(out, "outreach.arrangement_broken") == []
    assert of_type(out, "outreach.contact_requested") == []
    assert {s["reason"] for s in of_type(out, "outreach.contact_suppressed")} == {"arrangement_active"}
    out = await outreach.close(date(2026, 1, 25))  # due_on 2026-01-20 + grace 5
    [broken] = of_type(out, "outreach.arrangement_broken")
    assert broken == {
        "arrangement_id": arrangement_id,
        "account_id": "A",
        "as_of": "2026-01-25",
        "installment": 1,
        "due_on": "2026-01-20",
        "paid_minor": 200,
        "expected_minor": 300,
    }
    assert [r["step"] for r in of_type(out, "outreach.contact_requested")] == ["calls"]
    assert [e.type for e in out].index("outreach.arrangement_broken") < [e.type for e in out].index(
        "outreach.contact_requested"
    )


async def test_payment_before_made_on_does_not_count(outreach: Harness) -> None:
    await delinquent(outreach)
    await outreach.payment("A", "early", 300, MADE - timedelta(days=1))
    await propose(outreach, plan((date(2026, 1, 20), 300)))
    out = await outreach.payment("A", "early2", 300, MADE - timedelta(days=1))
    assert of_type(out, "outreach.arrangement_completed") == []
    out = await outreach.close_range(date(2026, 1, 12), date(2026, 1, 25))
    assert of_type(out, "outreach.arrangement_broken")


async def test_cure_does_not_end_the_arrangement(outreach: Harness) -> None:
    await delinquent(outreach)
    await propose(outreach, plan((date(2026, 1, 20), 300)))
    await outreach.delinquent("A", D1, None)
    out = await outreach.close_range(date(2026, 1, 12), date(2026, 1, 25))
    assert [b["as_of"] for b in of_type(out, "outreach.arrangement_broken")] == ["2026-01-25"]


async def test_reversal_uncounts_from_the_active_arrangement(outreach: Harness) -> None:
    await delinquent(outreach)
    await propose(outreach, plan((date(2026, 1, 20), 300), (date(2026, 2, 20), 300)))
    await outreach.payment("A", "p1", 300, date(2026, 1, 13))
    await outreach.reversal("A", "p1")
    out = await outreach.close_range(date(2026, 1, 12), date(2026, 1, 25))
    assert [b["paid_minor"] for b in of_type(out, "outreach.arrangement_broken")] == [0]


INVALID = [
    ("both", {"promise": {"amount_minor": 1, "promised_on": "2026-01-20"}, "arrangement": plan((MADE, 1))}),
    ("unknown kind", {"arrangement": {"kind": "loan", "installments": [{"due_on": "2026-01-20", "amount_minor": 1}]}}),
    ("no installments", {"arrangement": {"kind": "plan", "installments": []}}),
    ("zero amount", {"arrangement": plan((MADE, 0))}),
    ("negative amount", {"arrangement": plan((MADE, -5))}),
    ("not increasing", {"arrangement": plan((date(2026, 1, 20), 1), (date(2026, 1, 20), 1))}),
]


@pytest.mark.parametrize(("name", "extra"), INVALID, ids=[n for n, _ in INVALID])
async def test_invalid_forms_are_rejected_through_replay(tmp_path: Path, name: str, extra: dict[str, Any]) -> None:
    from collections_events.config import PlatformConfig
    from collections_platform.replay import replay

    event = {
        "specversion": "1.0",
        "id": "bad-1",
        "source": "test",
        "type": "contact.result_reported",
        "subject": "A",
        "time": AT,
        "datacontenttype": "application/json",
        "data": {"account_id": "A", "attempt_id": None, "channel": "call", "outcome": "answered_rpc", "occurred_at": AT}
        | extra,
    }
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(event) + "\n", encoding="utf-8")
    await replay(source, tmp_path / "out.jsonl", PlatformConfig(), None)
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["type"] for x in lines] == ["system.event_rejected"]
    assert lines[0]["data"]["event_id"] == "bad-1" and lines[0]["data"]["line"] == 1
    assert lines[0]["data"]["reason"].startswith("data")
