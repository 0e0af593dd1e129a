"""Moving and closing a case through legal's API: each step an event, illegal moves 409."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

D0 = date(2026, 1, 10)
D90 = D0 + timedelta(days=90)
STEPS = [
    {"to_state": "demand_sent", "actor": "agent-7", "note": "demand letter", "on_date": "2026-04-12"},
    {"to_state": "filed", "actor": "agent-7", "court": "Shanghai Pudong Court", "docket_number": "2026-CV-0042"},
    {"to_state": "judgment", "actor": "counsel-1", "amount_minor": 512345, "on_date": "2026-06-01"},
    {"to_state": "enforcement", "actor": "counsel-1", "note": "wage garnishment"},
]


async def _opened(legal) -> str:
    await legal.delinquent("A1")
    [opened] = legal.of_type(await legal.close(D90), "legal.case_opened")
    return opened.data["case_id"]


async def test_every_legal_move_is_an_event_and_a_history_step(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        state = "referred"
        for step in STEPS:
            before = len(legal.published)
            answer = await http.post(f"/cases/{case_id}/moves", json=step)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["state"] == step["to_state"]
            [moved] = [e for e in legal.published[before:] if e.type == "legal.case_moved"] or [None]
            assert moved is None  # published by the relay, not yet drained
            await legal.platform.drain()
            [moved] = legal.of_type(legal.published[before:], "legal.case_moved")
            assert moved.data["from_state"] == state and moved.data["to_state"] == step["to_state"]
            assert moved.data["actor"] == step["actor"]
            state = step["to_state"]
        case = (await http.get(f"/cases/{case_id}")).json()
    assert case["state"] == "enforcement"
    assert case["allowed_moves"] == ["closed"]
    history = case["history"]
    assert [h["to_state"] for h in history] == ["referred", "demand_sent", "filed", "judgment", "enforcement"]
    assert history[2]["court"] == "Shanghai Pudong Court" and history[2]["docket_number"] == "2026-CV-0042"
    assert history[3]["amount_minor"] == 512345 and history[3]["on_date"] == "2026-06-01"
    assert all(h["as_of"] == D90.isoformat() for h in history)


@pytest.mark.parametrize(
    "reached, to_state",
    [
        (0, "filed"),
        (0, "judgment"),
        (0, "enforcement"),
        (0, "referred"),
        (1, "demand_sent"),
        (1, "judgment"),
        (2, "demand_sent"),
        (2, "enforcement"),
        (3, "filed"),
        (4, "judgment"),
        (4, "enforcement"),
    ],
)
async def test_an_illegal_move_answers_409_with_the_allowed_moves(legal, reached: int, to_state: str) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        for step in STEPS[:reached]:
            assert (await http.post(f"/cases/{case_id}/moves", json=step)).status_code == 200
        state = ["referred", *[s["to_state"] for s in STEPS]][reached]
        facts = {"court": "C", "docket_number": "D", "amount_minor": 1}
        answer = await http.post(f"/cases/{case_id}/moves", json={"to_state": to_state, "actor": "a", **facts})
        if to_state == "referred":
            assert answer.status_code == 422  # not a state a case moves to
            return
        assert answer.status_code == 409, answer.text
        nxt = {"referred": "demand_sent", "demand_sent": "filed", "filed": "judgment", "judgment": "enforcement"}
        expected = [nxt[state], "closed"] if state in nxt else ["closed"]
        assert answer.json()["allowed_moves"] == expected
        assert answer.json()["state"] == state
        assert (await http.get(f"/cases/{case_id}")).json()["state"] == state


async def test_a_step_missing_its_facts_answers_422_naming_the_field(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        await http.post(f"/cases/{case_id}/moves", json=STEPS[0])
        answer = await http.post(f"/cases/{case_id}/moves", json={"to_state": "filed", "actor": "a", "court": "C"})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "docket_number"]
        await http.post(f"/cases/{case_id}/moves", json=STEPS[1])
        answer = await http.post(f"/cases/{case_id}/moves", json={"to_state": "judgment", "actor": "a"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "amount_minor"]
        answer = await http.post(f"/cases/{case_id}/moves", json={"to_state": "judgment"})
        assert answer.status_code == 422  # no actor


@pytest.mark.parametrize("reached", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("reason", ["paid", "settled", "withdrawn"])
async def test_an_agent_closes_from_any_open_state(legal, reached: int, reason: str) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        for step in STEPS[:reached]:
            await http.post(f"/cases/{case_id}/moves", json=step)
        answer = await http.post(f"/cases/{case_id}/close", json={"reason": reason, "actor": "agent-7", "note": "n"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "closed" and answer.json()["close_reason"] == reason
        await legal.platform.drain()
        [closed] = legal.of_type(legal.published, "legal.case_closed")
        assert closed.data == {"case_id": case_id, "account_id": "A1", "as_of": D90.isoformat(), "reason": reason}
        moved = legal.of_type(legal.published, "legal.case_moved")[-1]
        assert moved.data["to_state"] == "closed" and moved.data["actor"] == "agent-7"
        again = await http.post(f"/cases/{case_id}/close", json={"reason": reason, "actor": "agent-7"})
        assert again.status_code == 409 and again.json()["allowed_moves"] == []
        moved_again = await http.post(f"/cases/{case_id}/moves", json=STEPS[0])
        assert moved_again.status_code == 409 and moved_again.json()["allowed_moves"] == []


async def test_automatic_reasons_are_not_an_agents_to_give(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        answer = await http.post(f"/cases/{case_id}/close", json={"reason": "cured", "actor": "a"})
        assert answer.status_code == 422


async def test_an_unknown_case_is_404(legal) -> None:
    async with legal.client() as http:
        assert (await http.get("/cases/nope")).status_code == 404
        assert (await http.post("/cases/nope/moves", json=STEPS[0])).status_code == 404
        assert (await http.post("/cases/nope/close", json={"reason": "paid", "actor": "a"})).status_code == 404
        assert (await http.get("/cases/nope/evidence")).status_code == 404


async def test_the_command_is_kept_in_legals_log(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        await http.post(f"/cases/{case_id}/moves", json=STEPS[0])
    async with legal.runtime.db.sessions() as session:
        stream = await legal.runtime.unit_of_work(session).read_stream("A1")
    assert [e.type for e in stream] == ["legal.case_opened", "legal.case_move_requested", "legal.case_moved"]


async def test_a_refused_command_through_the_handler_changes_nothing(legal) -> None:
    """The handler decides too (the API's checks are only a fast path): a stale command is rejected."""
    case_id = await _opened(legal)
    event = legal.event(
        "legal.case_move_requested",
        {"case_id": case_id, "account_id": "A1", "to_state": "judgment", "actor": "a", "amount_minor": 1},
    )
    emitted = await legal.runtime.execute(event, "legal")
    assert [e.type for e in emitted] == ["system.event_rejected"]
    assert "allowed moves: demand_sent, closed" in emitted[0].data["reason"]
    assert (await legal.case_of("A1"))["state"] == "referred"


async def test_after_a_withdrawal_no_new_case_until_the_account_is_cured(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        await http.post(f"/cases/{case_id}/close", json={"reason": "withdrawn", "actor": "a"})
    assert legal.of_type(await legal.close(D90 + timedelta(days=1)), "legal.case_opened") == []
    await legal.bucket("A1", D90 + timedelta(days=1), 0, None)
    await legal.balance("A1", (D90 + timedelta(days=5), 100))
    await legal.requests("A1", *[D90 + timedelta(days=i) for i in (6, 7, 8)])
    reopened = legal.of_type(await legal.close(D90 + timedelta(days=95)), "legal.case_opened")
    assert len(reopened) == 1 and reopened[0].data["case_id"] != case_id


async def test_a_note_over_the_limit_answers_422_naming_the_field(legal) -> None:
    case_id = await _opened(legal)
    async with legal.client() as http:
        answer = await http.post(f"/cases/{case_id}/moves", json={**STEPS[0], "note": "x" * 3_000_000})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "note"]
        assert (await http.post(f"/cases/{case_id}/moves", json={**STEPS[0], "note": "x" * 2000})).status_code == 200
