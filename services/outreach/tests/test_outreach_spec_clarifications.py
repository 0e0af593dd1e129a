"""Issue 15's outreach clarifications of behaviour.md: the rpc_cooldown day is fixed with the
timezone the account had when the result was recorded; a reversal that un-meets an installment
whose grace has ended breaks the arrangement at the next close (as_of that close); a re-presented
payment counts again; the destination rule."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .conftest import Harness, of_type

D0 = date(2026, 1, 10)
D1 = D0 + timedelta(days=1)


def calls(out: list[Any]) -> list[dict[str, Any]]:
    return [c for c in of_type(out, "outreach.contact_requested") if c["channel"] == "call"]


def call_suppressions(out: list[Any]) -> list[str]:
    return [s["reason"] for s in of_type(out, "outreach.contact_suppressed") if s["channel"] == "call"]


async def test_rpc_cooldown_day_does_not_move_with_a_later_timezone_change(outreach: Harness) -> None:
    # 2026-01-20T23:30Z is 21 January in Shanghai (UTC+8) but 20 January in New York.
    await outreach.opened("A", tz="Asia/Shanghai")
    await outreach.delinquent("A", D1, D0)
    await outreach.result("A", "answered_rpc", "2026-01-20T23:30:00Z")
    await outreach.feed("account.contacts_updated", {"account_id": "A", "timezone": "America/New_York"})
    # The cooldown covers local days 21..27 January (fixed in Shanghai). Calls start at dpd 10
    # (close of 20 January, window 21 January) and are asked daily.
    out = await outreach.close_range(D1, date(2026, 1, 26))
    assert calls(out) == [], "no call may be asked for a window inside the cooldown"
    assert call_suppressions(out)[-1] == "rpc_cooldown"
    out = await outreach.close(date(2026, 1, 27))  # window 28 January: outside the cooldown
    assert len(calls(out)) == 1
    # Had the day moved with the timezone (20 January in New York), the close of 26 January
    # (window 27 January) would have asked for a call.


async def test_reversal_after_grace_breaks_at_the_next_close_not_at_the_reversal(outreach: Harness) -> None:
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.close(D1)
    await outreach.result(
        "A",
        "answered_rpc",
        "2026-01-12T02:00:00Z",
        arrangement={
            "kind": "plan",
            "installments": [
                {"due_on": "2026-01-14", "amount_minor": 300},
                {"due_on": "2026-03-14", "amount_minor": 300},
            ],
        },
    )
    await outreach.payment("A", "p1", 300, date(2026, 1, 13))
    out = await outreach.close_range(date(2026, 1, 12), date(2026, 1, 25))  # grace of #1 ends 19 January
    assert of_type(out, "outreach.arrangement_broken") == []
    out = await outreach.reversal("A", "p1")
    # delinquency re-publishes as of the last close (the reversal re-opens nothing here, the account
    # stays delinquent); outreach re-evaluates at once only for a new episode
    out += await outreach.delinquent("A", date(2026, 1, 25), D0)
    assert of_type(out, "outreach.arrangement_broken") == []
    out = await outreach.close(date(2026, 1, 26))
    broken = of_type(out, "outreach.arrangement_broken")
    assert [(b["as_of"], b["installment"], b["paid_minor"]) for b in broken] == [("2026-01-26", 1, 0)]


async def test_reversal_that_starts_an_episode_breaks_at_the_next_close(outreach: Harness) -> None:
    # A cured account with an active plan: the reversal starts a new episode as of the last close,
    # which outreach evaluates at once; the plan is broken only at the next close.
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.close(D1)
    await outreach.result(
        "A",
        "answered_rpc",
        "2026-01-12T02:00:00Z",
        arrangement={
            "kind": "plan",
            "installments": [
                {"due_on": "2026-01-14", "amount_minor": 300},
                {"due_on": "2026-03-14", "amount_minor": 300},
            ],
        },
    )
    await outreach.payment("A", "p1", 300, date(2026, 1, 13))
    await outreach.delinquent("A", date(2026, 1, 13), None)  # cured by p1
    await outreach.close_range(date(2026, 1, 12), date(2026, 1, 25))
    out = await outreach.reversal("A", "p1")
    out += await outreach.delinquent("A", date(2026, 1, 25), D0)  # the episode restarts as of 25 Jan
    assert of_type(out, "outreach.arrangement_broken") == []
    out = await outreach.close(date(2026, 1, 26))
    broken = of_type(out, "outreach.arrangement_broken")
    assert [(b["as_of"], b["installment"]) for b in broken] == [("2026-01-26", 1)]


async def test_re_presented_payment_counts_again_toward_the_promise(outreach: Harness) -> None:
    await outreach.opened("A")
    await outreach.delinquent("A", D1, D0)
    await outreach.close(D1)
    await outreach.result(
        "A", "answered_rpc", "2026-01-12T02:00:00Z", promise={"amount_minor": 500, "promised_on": "2026-01-20"}
    )
    await outreach.payment("A", "p1", 500, date(2026, 1, 13))
    await outreach.reversal("A", "p1")  # the promise was kept at once: a settled promise is final
    # a second promise, then p1 is re-presented inside its period: it counts again
    await outreach.close_range(date(2026, 1, 12), date(2026, 1, 13))
    await outreach.result(
        "A", "answered_rpc", "2026-01-14T02:00:00Z", promise={"amount_minor": 500, "promised_on": "2026-01-22"}
    )
    out = await outreach.payment("A", "p1", 500, date(2026, 1, 15))
    assert [p["promised_on"] for p in of_type(out, "outreach.promise_kept")] == ["2026-01-22"]


async def test_destination_rule(outreach: Harness) -> None:
    contacts = {
        "phones": [{"number": "+12125550100", "kind": "work"}, {"number": "+12125550101", "kind": "home"}],
        "emails": [],
        "postal_address": None,
    }
    await outreach.opened("A", contacts=contacts)
    await outreach.delinquent("A", D1, D0)
    out = await outreach.close_range(D1, date(2026, 1, 20))
    reasons = {s["step"]: s["reason"] for s in of_type(out, "outreach.contact_suppressed")}
    assert reasons["sms-reminder"] == "no_destination"  # no mobile
    requested = {c["step"]: c for c in of_type(out, "outreach.contact_requested")}
    assert requested["push-reminder"]["destination"] == "cust-A"
    assert requested["calls"]["destination"] == "+12125550101"  # home before work


async def test_promise_on_an_unanswered_result_is_rejected_naming_the_field(outreach: Harness) -> None:
    await outreach.opened("A")
    out = await outreach.result(
        "A",
        "no_answer",
        "2026-01-12T02:00:00Z",
        channel="sms",
        promise={"amount_minor": 5, "promised_on": "2026-01-20"},
    )
    assert [e.type for e in out] == ["system.event_rejected"]
    assert out[0].data["reason"].startswith("data.promise:") and "no_answer" in out[0].data["reason"]


async def test_a_result_for_an_attempt_not_seen_yet_is_recorded(outreach: Harness) -> None:
    """Results and requests travel on different topics: a consumer may read a result before the close
    that issued its attempt (behaviour.md, Time and order), so an unknown attempt_id is not refused."""
    await outreach.opened("A")
    out = await outreach.result("A", "delivered", "2026-01-12T02:00:00Z", attempt_id="not-seen-yet")
    assert [e.type for e in out] == ["outreach.contact_recorded"]
