"""The referral rule at its edges, through legal's real handler on the embedded platform (SQLite)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from collections_events.ids import derive_id

D0 = date(2026, 1, 10)  # the harness's default due date
D90 = D0 + timedelta(days=90)
D89 = D0 + timedelta(days=89)
DAY = timedelta(days=1)


async def test_dpd_89_no_case_dpd_90_opens_one(legal) -> None:
    await legal.delinquent("A1")
    assert legal.of_type(await legal.close(D89), "legal.case_opened") == []
    opened = legal.of_type(await legal.close(D90), "legal.case_opened")
    assert len(opened) == 1
    data = opened[0].data
    assert data == {
        "case_id": data["case_id"],
        "account_id": "A1",
        "as_of": D90.isoformat(),
        "dpd": 90,
        "past_due_minor": 5000,
        "contact_attempts": 3,
    }
    assert opened[0].subject == "A1"
    assert (await legal.case_of("A1"))["state"] == "referred"


async def test_case_id_and_event_id_derive_from_the_close(legal) -> None:
    await legal.delinquent("A1")
    close = legal.event("day.closed", {"as_of": D90.isoformat()})
    legal.platform.feed("clock", close)
    await legal.platform.drain()
    opened = legal.of_type(legal.published, "legal.case_opened")[0]
    assert opened.data["case_id"] == derive_id(close.id, "case:A1")
    assert opened.id == derive_id(close.id, "case_opened:A1")
    assert opened.time == close.envelope.time


async def test_past_due_counts_only_dues_dated_before_the_close(legal) -> None:
    await legal.balance("A1", (D0, 5000), (D0 + timedelta(days=30), 700), (D90, 900), (D90 + DAY, 100))
    await legal.requests("A1", D0 + DAY, D0 + 2 * DAY, D0 + 3 * DAY)
    opened = legal.of_type(await legal.close(D90), "legal.case_opened")[0]
    assert opened.data["past_due_minor"] == 5700
    assert opened.data["dpd"] == 90


@pytest.mark.parametrize("attempts, opens", [(2, False), (3, True)])
async def test_contact_attempts_edge(legal, attempts: int, opens: bool) -> None:
    await legal.delinquent("A1", attempts=attempts)
    assert bool(legal.of_type(await legal.close(D90), "legal.case_opened")) is opens


async def test_requests_as_of_the_close_itself_do_not_count(legal) -> None:
    await legal.delinquent("A1", attempts=2)
    await legal.requests("A1", D90)
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []
    opened = legal.of_type(await legal.close(D90 + DAY), "legal.case_opened")
    assert [e.data["contact_attempts"] for e in opened] == [3]


async def test_a_result_record_is_not_an_attempt(legal) -> None:
    await legal.delinquent("A1", attempts=2)
    await legal.send("outreach.contact_recorded", legal.record("A1", "result", None, outcome="no_answer"))
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []


async def test_min_contact_attempts_and_referral_dpd_come_from_config(make_legal) -> None:
    legal = await make_legal({"legal": {"referral_dpd": 60, "min_contact_attempts": 0}})
    await legal.balance("A1", (D0, 100))
    assert legal.of_type(await legal.close(D0 + timedelta(days=59)), "legal.case_opened") == []
    opened = legal.of_type(await legal.close(D0 + timedelta(days=60)), "legal.case_opened")
    assert [(e.data["dpd"], e.data["contact_attempts"]) for e in opened] == [(60, 0)]
    await legal.stop()


@pytest.mark.parametrize("flag", ["dispute", "bankruptcy", "deceased"])
async def test_each_blocking_flag_prevents_referral_until_cleared(legal, flag: str) -> None:
    await legal.delinquent("A1")
    await legal.flag("A1", flag)
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []
    await legal.flag("A1", flag, is_set=False)
    assert len(legal.of_type(await legal.close(D90 + DAY), "legal.case_opened")) == 1


@pytest.mark.parametrize("flag", ["cease_and_desist", "hardship"])
async def test_other_flags_do_not_block_referral(legal, flag: str) -> None:
    await legal.delinquent("A1")
    await legal.flag("A1", flag)
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1


def _promise(account: str, promised_on, pid: str = "P1") -> dict:
    return {"promise_id": pid, "account_id": account, "amount_minor": 1000, "promised_on": promised_on.isoformat()}


async def test_promise_due_on_the_close_is_active_then_no_longer(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.promise_recorded", _promise("A1", D90))
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []
    await legal.send("outreach.promise_broken", _promise("A1", D90))
    assert len(legal.of_type(await legal.close(D90 + DAY), "legal.case_opened")) == 1


async def test_an_unsettled_promise_past_its_date_does_not_block(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.promise_recorded", _promise("A1", D90 - DAY))
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1


async def test_a_kept_promise_does_not_block(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.promise_recorded", _promise("A1", D90 + timedelta(days=10)))
    await legal.send("outreach.promise_kept", _promise("A1", D90 + timedelta(days=10)))
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1


def _made(account: str, aid: str = "AR1") -> dict:
    return {
        "arrangement_id": aid,
        "account_id": account,
        "kind": "plan",
        "installments": [{"due_on": (D0 + timedelta(days=60)).isoformat(), "amount_minor": 5000}],
        "total_minor": 5000,
        "made_on": (D0 + timedelta(days=50)).isoformat(),
    }


def _broken(account: str, as_of, aid: str = "AR1") -> dict:
    return {
        "arrangement_id": aid,
        "account_id": account,
        "as_of": as_of.isoformat(),
        "installment": 1,
        "due_on": (D0 + timedelta(days=60)).isoformat(),
        "paid_minor": 0,
        "expected_minor": 5000,
    }


async def test_an_active_arrangement_blocks_referral(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.arrangement_made", _made("A1"))
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []
    assert legal.of_type(await legal.close(D90 + timedelta(days=30)), "legal.case_opened") == []


async def test_arrangement_broken_before_the_close_no_longer_blocks(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.arrangement_made", _made("A1"))
    await legal.send("outreach.arrangement_broken", _broken("A1", D90 - DAY))
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1


async def test_arrangement_broken_at_the_close_still_blocks_it(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.arrangement_made", _made("A1"))
    await legal.send("outreach.arrangement_broken", _broken("A1", D90))
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []
    assert len(legal.of_type(await legal.close(D90 + DAY), "legal.case_opened")) == 1


async def test_a_completed_arrangement_does_not_block(legal) -> None:
    await legal.delinquent("A1")
    await legal.send("outreach.arrangement_made", _made("A1"))
    await legal.send(
        "outreach.arrangement_completed",
        {
            "arrangement_id": "AR1",
            "account_id": "A1",
            "kind": "plan",
            "made_on": (D0 + timedelta(days=50)).isoformat(),
            "paid_minor": 5000,
        },
    )
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1


async def test_one_open_case_per_account(legal) -> None:
    await legal.delinquent("A1")
    assert len(legal.of_type(await legal.close(D90), "legal.case_opened")) == 1
    assert legal.of_type(await legal.close(D90 + DAY), "legal.case_opened") == []
    assert legal.of_type(await legal.close(D90 + 30 * DAY), "legal.case_opened") == []


async def test_a_close_at_or_before_the_last_one_is_ignored(legal) -> None:
    await legal.delinquent("A1")
    await legal.close(D90 + DAY)
    await legal.close(D89)
    # A replayed close of an earlier date opens nothing and moves no clock backwards.
    assert len(legal.of_type(legal.published, "legal.case_opened")) == 1
    await legal.delinquent("A2")
    assert legal.of_type(await legal.close(D90 + DAY), "legal.case_opened") == []
    assert len(legal.of_type(await legal.close(D90 + 2 * DAY), "legal.case_opened")) == 1


async def test_cases_open_in_account_order(legal) -> None:
    for account in ("C3", "A1", "B2"):
        await legal.delinquent(account)
    opened = legal.of_type(await legal.close(D90), "legal.case_opened")
    assert [e.data["account_id"] for e in opened] == ["A1", "B2", "C3"]


async def test_a_payment_before_the_close_prevents_referral(legal) -> None:
    await legal.delinquent("A1")
    await legal.balance("A1")
    assert legal.of_type(await legal.close(D90), "legal.case_opened") == []


async def test_the_close_reads_only_accounts_whose_wake_date_has_come(legal) -> None:
    await legal.delinquent("A1")
    await legal.delinquent("A2", due=D0 + timedelta(days=20))
    await legal.delinquent("A3", attempts=1)
    async with legal.runtime.db.sessions() as session:
        uow = legal.runtime.unit_of_work(session)
        assert await uow.waking(D90) == ["account:A1"]
        assert await uow.waking(D90 + timedelta(days=20)) == ["account:A1", "account:A2"]
