"""The case lifecycle as a pure state machine: every legal and every illegal move."""

from __future__ import annotations

import itertools

import pytest

from collections_legal.domain.lifecycle import (
    CLOSED,
    OPEN_STATES,
    STATES,
    allowed_moves,
    check_close,
    check_move,
)

NEXT = dict(itertools.pairwise(OPEN_STATES))
FACTS = {"court": "District Court", "docket_number": "2026-CV-1", "amount_minor": 500000}


def test_allowed_moves_are_the_next_state_and_closing() -> None:
    assert allowed_moves("referred") == ("demand_sent", CLOSED)
    assert allowed_moves("demand_sent") == ("filed", CLOSED)
    assert allowed_moves("filed") == ("judgment", CLOSED)
    assert allowed_moves("judgment") == ("enforcement", CLOSED)
    assert allowed_moves("enforcement") == (CLOSED,)
    assert allowed_moves(CLOSED) == ()


@pytest.mark.parametrize("state, to_state", list(itertools.product(STATES, OPEN_STATES)))
def test_every_move_between_open_states(state: str, to_state: str) -> None:
    refused = check_move(state, to_state, FACTS)
    if NEXT.get(state) == to_state:
        assert refused is None
    else:
        assert refused is not None and refused.kind == "illegal"
        assert refused.allowed == allowed_moves(state)


@pytest.mark.parametrize("state", OPEN_STATES)
def test_closing_is_allowed_from_every_open_state(state: str) -> None:
    for reason in ("cured", "paid", "settled", "withdrawn", "bankruptcy", "deceased"):
        assert check_close(state, reason) is None


def test_a_closed_case_cannot_be_closed_or_moved() -> None:
    refused = check_close(CLOSED, "paid")
    assert refused is not None and refused.kind == "illegal" and refused.allowed == ()
    assert check_move(CLOSED, "referred", FACTS) is not None


@pytest.mark.parametrize(
    "to_state, facts, missing",
    [
        ("filed", {"docket_number": "X"}, "court"),
        ("filed", {"court": "C"}, "docket_number"),
        ("filed", {"court": "", "docket_number": "X"}, "court"),
        ("judgment", {}, "amount_minor"),
    ],
)
def test_a_step_without_its_facts_is_incomplete(to_state: str, facts: dict, missing: str) -> None:
    state = {"filed": "demand_sent", "judgment": "filed"}[to_state]
    refused = check_move(state, to_state, facts)
    assert refused is not None and refused.kind == "incomplete" and missing in refused.reason


def test_a_judgment_of_zero_is_stated() -> None:
    assert check_move("filed", "judgment", {"amount_minor": 0}) is None


def test_closing_through_a_move_needs_the_close_command() -> None:
    refused = check_move("referred", CLOSED, {})
    assert refused is not None and refused.kind == "incomplete"
