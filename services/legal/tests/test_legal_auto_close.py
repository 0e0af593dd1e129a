"""Automatic closings: a cure (`cured`), a `bankruptcy` or a `deceased` flag close the open case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

D0 = date(2026, 1, 10)
D90 = D0 + timedelta(days=90)
DAY = timedelta(days=1)


async def _opened(legal, account: str = "A1") -> str:
    await legal.delinquent(account)
    [opened] = legal.of_type(await legal.close(D90), "legal.case_opened")
    return opened.data["case_id"]


async def test_a_cure_closes_the_case_as_of_the_cure(legal) -> None:
    case_id = await _opened(legal)
    await legal.close(D90 + DAY)
    await legal.balance("A1")
    out = await legal.bucket("A1", D90 + DAY, 0, None)
    [moved] = legal.of_type(out, "legal.case_moved")
    [closed] = legal.of_type(out, "legal.case_closed")
    assert moved.data["from_state"] == "referred" and moved.data["to_state"] == "closed"
    assert moved.data["actor"] == "legal"
    assert closed.data == {"case_id": case_id, "account_id": "A1", "as_of": (D90 + DAY).isoformat(), "reason": "cured"}
    case = await legal.case_of("A1")
    assert case["state"] == "closed" and case["close_reason"] == "cured"
    assert case["closed_on"] == (D90 + DAY).isoformat()


async def test_a_dpd_change_that_is_not_a_cure_closes_nothing(legal) -> None:
    await _opened(legal)
    out = await legal.bucket("A1", D90 + DAY, 60, D0 + timedelta(days=31))
    assert out == []
    assert (await legal.case_of("A1"))["state"] == "referred"


async def test_a_cure_older_than_the_case_does_not_close_it(legal) -> None:
    await _opened(legal)
    assert await legal.bucket("A1", D90 - DAY, 0, None) == []
    assert (await legal.case_of("A1"))["state"] == "referred"


@pytest.mark.parametrize("flag", ["bankruptcy", "deceased"])
async def test_the_flag_closes_the_case_as_of_the_last_close(legal, flag: str) -> None:
    case_id = await _opened(legal)
    await legal.close(D90 + 3 * DAY)
    out = await legal.flag("A1", flag)
    [closed] = legal.of_type(out, "legal.case_closed")
    assert closed.data == {"case_id": case_id, "account_id": "A1", "as_of": (D90 + 3 * DAY).isoformat(), "reason": flag}
    assert len(legal.of_type(out, "legal.case_moved")) == 1
    # The flag still blocks referral while it is set; the closed case stays closed.
    assert legal.of_type(await legal.close(D90 + 4 * DAY), "legal.case_opened") == []


@pytest.mark.parametrize("flag", ["dispute", "cease_and_desist", "hardship"])
async def test_other_flags_do_not_close_the_case(legal, flag: str) -> None:
    await _opened(legal)
    assert legal.of_type(await legal.flag("A1", flag), "legal.case_closed") == []


async def test_a_case_closed_at_any_step_of_its_lifecycle(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        await http.post(f"/cases/{case_id}/moves", json={"to_state": "demand_sent", "actor": "a"})
        await http.post(
            f"/cases/{case_id}/moves", json={"to_state": "filed", "actor": "a", "court": "C", "docket_number": "1"}
        )
    await legal.platform.drain()
    out = await legal.flag("A1", "deceased")
    [moved] = legal.of_type(out, "legal.case_moved")
    assert moved.data["from_state"] == "filed"
    assert legal.of_type(out, "legal.case_closed")[0].data["reason"] == "deceased"


async def test_after_a_cure_a_new_episode_may_be_referred_again(legal) -> None:
    first = await _opened(legal)
    await legal.balance("A1")
    await legal.bucket("A1", D90, 0, None)
    later = D90 + timedelta(days=10)
    await legal.balance("A1", (later, 300))
    await legal.requests("A1", later + DAY, later + 2 * DAY, later + 3 * DAY)
    assert legal.of_type(await legal.close(later + timedelta(days=89)), "legal.case_opened") == []
    [opened] = legal.of_type(await legal.close(later + timedelta(days=90)), "legal.case_opened")
    assert opened.data["case_id"] != first and opened.data["dpd"] == 90
