"""Every suppression reason, through the real handler, in the spec's order (behaviour.md, Outreach)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from collections_events.config import parse_config

from .conftest import ALL_CONSENTS, DEFAULT_CONTACTS, Harness, make_harness, of_type

D0 = date(2026, 1, 10)
D1 = D0 + timedelta(days=1)  # dpd 1


def reasons(out: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {s["step"]: s["reason"] for s in of_type(out, "outreach.contact_suppressed")}


def requested(out: list) -> list[str]:  # type: ignore[type-arg]
    return [r["step"] for r in of_type(out, "outreach.contact_requested")]


@pytest.fixture
async def every_channel(tmp_path: Path) -> AsyncIterator[Harness]:
    """Outreach with one step per channel, all at dpd 1 (calls every day)."""
    config = parse_config(
        {
            "outreach": {
                "strategy": [
                    {"id": "s", "channel": "sms", "template": "t", "from_dpd": 1},
                    {"id": "e", "channel": "email", "template": "t", "from_dpd": 1},
                    {"id": "p", "channel": "push", "template": "t", "from_dpd": 1},
                    {"id": "c", "channel": "call", "template": "t", "from_dpd": 1, "every_days": 1},
                    {"id": "l", "channel": "letter", "template": "t", "from_dpd": 1},
                ]
            }
        }
    )
    h = await make_harness(f"sqlite+aiosqlite:///{tmp_path / 'o.sqlite3'}", config)
    yield h
    await h.runtime.db.close()


async def start(h: Harness, account: str = "A", **opened: object) -> None:
    await h.opened(account, **opened)  # type: ignore[arg-type]
    await h.delinquent(account, D1, D0)


async def test_no_suppression_when_all_is_lawful(every_channel: Harness) -> None:
    await start(every_channel)
    out = await every_channel.close(D1)
    assert requested(out) == ["s", "e", "p", "c", "l"]
    assert reasons(out) == {}


@pytest.mark.parametrize("flag", ["deceased", "bankruptcy", "cease_and_desist", "dispute"])
async def test_flags_suppress_every_channel(every_channel: Harness, flag: str) -> None:
    await start(every_channel)
    await every_channel.feed("account.flag_set", {"account_id": "A", "flag": flag, "reason": "x"})
    out = await every_channel.close(D1)
    assert requested(out) == []
    assert reasons(out) == dict.fromkeys("seplc", flag)


async def test_flag_order_deceased_before_bankruptcy_before_hold(every_channel: Harness) -> None:
    await start(every_channel)
    for flag in ("dispute", "cease_and_desist", "bankruptcy", "deceased"):
        await every_channel.feed("account.flag_set", {"account_id": "A", "flag": flag, "reason": "x"})
    assert set(reasons(await every_channel.close(D1)).values()) == {"deceased"}
    await every_channel.feed("account.flag_cleared", {"account_id": "A", "flag": "deceased", "reason": "x"})
    assert set(reasons(await every_channel.close(D1 + timedelta(days=1))).values()) == {"bankruptcy"}


async def test_dispute_cleared_resumes(every_channel: Harness) -> None:
    await start(every_channel)
    await every_channel.feed("account.flag_set", {"account_id": "A", "flag": "dispute", "reason": "x"})
    await every_channel.close(D1)
    await every_channel.feed("account.flag_cleared", {"account_id": "A", "flag": "dispute", "reason": "x"})
    out = await every_channel.close(D1 + timedelta(days=1))
    assert requested(out) == ["c"]  # the once-per-episode steps are not made up


async def test_legal_hold_from_the_first_evaluation_after_the_case(every_channel: Harness) -> None:
    await start(every_channel)
    case = {"case_id": "K1", "account_id": "A", "as_of": D1.isoformat()}
    await every_channel.feed("legal.case_opened", {**case, "dpd": 90, "past_due_minor": 1, "contact_attempts": 3})
    out = await every_channel.close(D1)  # the case's own close: not held yet
    assert reasons(out) == {}
    out = await every_channel.close(D1 + timedelta(days=1))
    assert reasons(out) == {"c": "legal_hold"}
    await every_channel.feed(
        "legal.case_closed", {**case, "as_of": (D1 + timedelta(days=1)).isoformat(), "reason": "cured"}
    )
    assert requested(await every_channel.close(D1 + timedelta(days=2))) == ["c"]


async def test_promise_active(every_channel: Harness) -> None:
    await start(every_channel)
    promise = {"amount_minor": 500, "promised_on": "2026-01-20"}
    await every_channel.result("A", "answered_rpc", "2026-01-11T03:00:00Z", promise=promise)
    assert reasons(await every_channel.close(D1)) == dict.fromkeys("seplc", "promise_active")


async def test_arrangement_active_after_promise_active(every_channel: Harness) -> None:
    await start(every_channel)
    arrangement = {"kind": "plan", "installments": [{"due_on": "2026-01-20", "amount_minor": 500}]}
    out = await every_channel.result("A", "answered_rpc", "2026-01-11T03:00:00Z", arrangement=arrangement)
    assert of_type(out, "outreach.arrangement_made")
    assert reasons(await every_channel.close(D1)) == dict.fromkeys("seplc", "arrangement_active")
    promise = {"amount_minor": 500, "promised_on": "2026-01-20"}
    await every_channel.result("A", "answered_rpc", "2026-01-12T03:00:00Z", promise=promise)
    assert reasons(await every_channel.close(D1 + timedelta(days=1))) == {"c": "promise_active"}


async def test_no_consent_per_channel(every_channel: Harness) -> None:
    await start(every_channel, consents={"sms": False, "email": True, "push": False, "autodialed_calls": False})
    out = await every_channel.close(D1)
    assert reasons(out) == {"s": "no_consent", "p": "no_consent", "c": "no_consent"}
    assert requested(out) == ["e", "l"]


async def test_hardship_withholds_every_channel_but_letters(every_channel: Harness) -> None:
    await start(every_channel)
    await every_channel.feed("account.flag_set", {"account_id": "A", "flag": "hardship", "reason": "x"})
    out = await every_channel.close(D1)
    assert reasons(out) == dict.fromkeys("sepc", "no_consent")
    assert requested(out) == ["l"]


async def test_no_destination(every_channel: Harness) -> None:
    contacts = {"phones": [{"number": "+12125550100", "kind": "work"}], "emails": [], "postal_address": None}
    await start(every_channel, contacts=contacts, consents=ALL_CONSENTS)
    out = await every_channel.close(D1)
    assert reasons(out) == {"s": "no_destination", "e": "no_destination", "l": "no_destination"}
    calls = of_type(out, "outreach.contact_requested")
    assert [(r["step"], r["destination"]) for r in calls] == [("p", "cust-A"), ("c", "+12125550100")]


async def test_call_prefers_mobile_then_home_then_work(every_channel: Harness) -> None:
    phones = [
        {"number": "+12125550101", "kind": "work"},
        {"number": "+12125550102", "kind": "home"},
    ]
    await start(every_channel, contacts={**DEFAULT_CONTACTS, "phones": phones})
    out = await every_channel.close(D1)
    assert {r["step"]: r["destination"] for r in of_type(out, "outreach.contact_requested")}["c"] == "+12125550102"


async def test_unknown_account_uses_utc_and_has_no_consent(every_channel: Harness) -> None:
    await every_channel.delinquent("U", D1, D0)
    out = await every_channel.close(D1)
    assert reasons(out) == {**dict.fromkeys("sepc", "no_consent"), "l": "no_destination"}


async def test_rpc_cooldown_seven_local_days(every_channel: Harness) -> None:
    await start(every_channel)  # Asia/Shanghai
    await every_channel.close(D1)  # call window 2026-01-12
    # Right party reached 2026-01-12 22:30 local (14:30Z): cooldown covers local 2026-01-12..18.
    await every_channel.result("A", "answered_rpc", "2026-01-12T14:30:00Z")
    outcomes = {}
    for n in range(1, 10):
        out = await every_channel.close(D1 + timedelta(days=n))
        outcomes[(D1 + timedelta(days=n + 1)).isoformat()] = reasons(out).get("c", "requested")
    assert outcomes == {
        "2026-01-13": "rpc_cooldown",
        "2026-01-14": "rpc_cooldown",
        "2026-01-15": "rpc_cooldown",
        "2026-01-16": "rpc_cooldown",
        "2026-01-17": "rpc_cooldown",
        "2026-01-18": "rpc_cooldown",
        "2026-01-19": "requested",
        "2026-01-20": "requested",
        "2026-01-21": "requested",
    }


async def test_frequency_cap_seven_calls_in_seven_days(tmp_path: Path) -> None:
    config = parse_config(
        {
            "outreach": {
                "strategy": [
                    {"id": "c1", "channel": "call", "template": "t", "from_dpd": 1, "every_days": 1},
                    {"id": "c2", "channel": "call", "template": "t", "from_dpd": 1, "every_days": 2},
                ]
            }
        }
    )
    h = await make_harness(f"sqlite+aiosqlite:///{tmp_path / 'o.sqlite3'}", config)
    await start(h)
    out = await h.close_range(D1, D1 + timedelta(days=9))
    windows = [date.fromisoformat(r["not_before"][:10]) for r in of_type(out, "outreach.contact_requested")]
    capped = [s for s in of_type(out, "outreach.contact_suppressed")]
    assert capped and {s["reason"] for s in capped} == {"frequency_cap"}
    for w in windows:
        assert sum(1 for x in windows if w <= x <= w + timedelta(days=6)) <= 7
    # Day 1: c1 and c2; day 2: c1; day 3: c1, c2; day 4: c1; day 5: c1 → 7 in 5 days; day 6 capped.
    assert len(windows) >= 7
    await h.runtime.db.close()
