"""Payment plans and settlements (behaviour.md, Arrangements).

Declined, first reason that applies: `not_delinquent` (no episode), `arrangement_active` (one at a
time), `too_many_installments` (more than `max_installments`), `outside_allowed_dates` (the first
`due_on` before `made_on`, or the last more than `max_days` after it), `below_settlement_floor`
(a settlement whose total * 100 < `settlement_floor_pct` * the `statement_balance_minor` of the
account's `payment.due` with the latest `due_date` on or before `made_on`; floor 0 when none).
Installment i is met when the counted total reaches installments 1..i; at the first close D on or
after `due_on` + `grace_days` with installment i unmet it is broken (as of D); when the counted total
reaches the whole it is completed at once. Dates are local/business dates; money minor units.

Choice (order-free across topics): payments outreach already knows, received on or after
`made_on`, count at once when the arrangement is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from collections_events.config import ArrangementRules
from collections_outreach.domain.state import AccountState, Arrangement

InstallmentStatus = Literal["met", "due", "missed"]


@dataclass(frozen=True)
class Breach:
    """An arrangement broken at the close `as_of`: installment `installment` (1-based) unmet."""

    arrangement: Arrangement
    as_of: date
    installment: int
    due_on: date
    paid_minor: int
    expected_minor: int


def statement_balance(state: AccountState, made_on: date) -> int:
    """`statement_balance_minor` of the `payment.due` with the latest `due_date` on or before
    `made_on` (ties: the greatest due_id); 0 when there is none."""
    eligible = [(d, k, b) for k, d, b in state.statements if d <= made_on]
    return max(eligible)[2] if eligible else 0


def decline_reason(
    state: AccountState,
    kind: str,
    installments: Sequence[tuple[date, int]],
    made_on: date,
    rules: ArrangementRules,
) -> str | None:
    """The first reason to decline the proposed arrangement, or None to accept it."""
    if not state.in_episode:
        return "not_delinquent"
    if state.active_arrangement is not None:
        return "arrangement_active"
    if len(installments) > rules.max_installments:
        return "too_many_installments"
    first, last = installments[0][0], installments[-1][0]
    if first < made_on or last > made_on + timedelta(days=rules.max_days):
        return "outside_allowed_dates"
    if kind == "settlement":
        total = sum(a for _, a in installments)
        if total * 100 < rules.settlement_floor_pct * statement_balance(state, made_on):
            return "below_settlement_floor"
    return None


def make_arrangement(
    state: AccountState,
    arrangement_id: str,
    kind: str,
    installments: Sequence[tuple[date, int]],
    made_on: date,
) -> tuple[AccountState, Arrangement]:
    """Add an accepted arrangement; only payments that arrive while it is active count toward it
    (behaviour.md, Arrangements: "...and they arrive while it is active")."""
    arrangement = Arrangement(arrangement_id, kind, tuple(installments), made_on)
    return replace(state, arrangements=(*state.arrangements, arrangement)), arrangement


def first_unmet(arrangement: Arrangement) -> tuple[int, date, int] | None:
    """(installment number, due_on, cumulative amount expected by it) of the first unmet installment."""
    counted = arrangement.counted_minor
    cumulative = 0
    for number, (due_on, amount) in enumerate(arrangement.installments, start=1):
        cumulative += amount
        if counted < cumulative:
            return number, due_on, cumulative
    return None


def breach_date(arrangement: Arrangement, grace_days: int) -> date | None:
    """The close at which the active arrangement breaks if nothing more is paid (due_on + grace)."""
    unmet = first_unmet(arrangement)
    if arrangement.status != "active" or unmet is None:
        return None
    return unmet[1] + timedelta(days=grace_days)


def break_at_close(state: AccountState, as_of: date, grace_days: int) -> tuple[AccountState, Breach | None]:
    """Break the active arrangement at the close `as_of` when an installment is unmet past its grace."""
    arrangement = state.active_arrangement
    if arrangement is None:
        return state, None
    unmet = first_unmet(arrangement)
    if unmet is None or as_of < unmet[1] + timedelta(days=grace_days):
        return state, None
    number, due_on, expected = unmet
    ended = replace(arrangement, status="broken", ended_as_of=as_of, broken_installment=number)
    arrangements = tuple(ended if a.arrangement_id == arrangement.arrangement_id else a for a in state.arrangements)
    breach = Breach(ended, as_of, number, due_on, arrangement.counted_minor, expected)
    return replace(state, arrangements=arrangements), breach


def installment_statuses(
    arrangement: Arrangement, last_closed: date | None, grace_days: int
) -> list[InstallmentStatus]:
    """Each installment as `met` (counted total reaches it), `missed` (unmet and its grace has passed,
    or the plan broke) or `due` (unmet, still payable)."""
    counted = arrangement.counted_minor
    cumulative = 0
    out: list[InstallmentStatus] = []
    for due_on, amount in arrangement.installments:
        cumulative += amount
        if counted >= cumulative or arrangement.status == "completed":
            out.append("met")
        elif arrangement.status == "broken" or (
            last_closed is not None and last_closed >= due_on + timedelta(days=grace_days)
        ):
            out.append("missed")
        else:
            out.append("due")
    return out
