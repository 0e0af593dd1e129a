"""A legal case's lifecycle as a state machine (behaviour.md, Legal; issue 5).

referred → demand_sent → filed → judgment → enforcement, each move only to the next state, and
`closed` from any open state with a reason. Some steps need facts: filing names the court and the
docket number; a judgment states its amount (integer minor units).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPEN_STATES = ("referred", "demand_sent", "filed", "judgment", "enforcement")
CLOSED = "closed"
STATES = (*OPEN_STATES, CLOSED)
CLOSE_REASONS = ("cured", "paid", "settled", "withdrawn", "bankruptcy", "deceased")
AGENT_CLOSE_REASONS = ("paid", "settled", "withdrawn")
"""Reasons an agent closes a case with; `cured`, `bankruptcy` and `deceased` are automatic."""

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "filed": ("court", "docket_number"),
    "judgment": ("amount_minor",),
}
"""What each step must state (beside the actor, always required)."""


def allowed_moves(state: str) -> tuple[str, ...]:
    """The states a case in `state` may move to: the next open state, and `closed` while open."""
    if state not in OPEN_STATES:
        return ()
    index = OPEN_STATES.index(state)
    following = OPEN_STATES[index + 1 : index + 2]
    return (*following, CLOSED)


@dataclass(frozen=True)
class MoveRefused:
    """A move the lifecycle does not allow (`illegal`) or a step missing a fact (`incomplete`)."""

    kind: str
    reason: str
    allowed: tuple[str, ...]


def check_move(state: str, to_state: str, facts: Mapping[str, Any]) -> MoveRefused | None:
    """None when a case in `state` may move to the open state `to_state` with `facts`.

    Closing goes through `check_close`; `to_state` = `closed` here is refused as incomplete.
    """
    allowed = allowed_moves(state)
    if to_state == CLOSED:
        return MoveRefused("incomplete", "closing needs a reason: use the close command", allowed)
    if to_state not in allowed:
        return MoveRefused("illegal", f"a {state} case cannot move to {to_state}", allowed)
    missing = [name for name in REQUIRED_FIELDS.get(to_state, ()) if facts.get(name) in (None, "")]
    if missing:
        return MoveRefused("incomplete", f"moving to {to_state} needs {', '.join(missing)}", allowed)
    return None


def check_close(state: str, reason: str) -> MoveRefused | None:
    """None when a case in `state` may be closed with `reason`."""
    allowed = allowed_moves(state)
    if CLOSED not in allowed:
        return MoveRefused("illegal", f"a {state} case cannot be closed", allowed)
    if reason not in CLOSE_REASONS:
        return MoveRefused("incomplete", f"unknown close reason {reason}", allowed)
    return None
