"""One account's evaluation at the close of business date D (behaviour.md, Outreach).

First settle promises (broken), then arrangements (broken: treatment resumes at that same close),
then the strategy's steps in order: each step that fires either asks for a contact in the window of
D+1 or is suppressed with the first reason that applies. An account is evaluated with its steps at
most once per business date (`evaluated_on`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from collections_events.config import OutreachConfig, Step
from collections_outreach.domain.arrangements import Breach, breach_date, break_at_close
from collections_outreach.domain.experiments import arm_of, arm_strategy
from collections_outreach.domain.promises import settle_at_close
from collections_outreach.domain.state import AccountState, Promise
from collections_outreach.domain.steps import firing_steps
from collections_outreach.domain.suppression import destination, suppression_reason, timezone_of
from collections_outreach.domain.window import ContactWindow, contact_window


@dataclass(frozen=True)
class ContactDecision:
    """A step that fired at the close `as_of`: a request (reason None) or a suppression."""

    step: Step
    as_of: date
    window: ContactWindow
    reason: str | None
    destination: str | None
    strategy: str = "champion"
    """The experiment arm whose strategy holds `step`."""


@dataclass(frozen=True)
class Evaluation:
    """Everything one close decided for one account, in publishing order."""

    broken_promises: tuple[Promise, ...] = ()
    breach: Breach | None = None
    contacts: tuple[ContactDecision, ...] = ()


def evaluate(
    state: AccountState, as_of: date, config: OutreachConfig, *, at_close: bool = True
) -> tuple[AccountState, Evaluation]:
    """Evaluate `state` at the close of `as_of`; returns the new state and what it decided.

    `at_close` False: an episode that starts after D's close, evaluated at once as of D. That breaks
    no arrangement: a reversal that un-meets an installment whose grace has ended breaks it at the
    next close, as of that close (behaviour.md, Arrangements), and `settled_on` stays, so the
    account wakes for that close.
    """
    state, broken = settle_at_close(state, as_of)
    breach = None
    if at_close and (state.settled_on is None or as_of > state.settled_on):
        state, breach = break_at_close(state, as_of, config.arrangements.grace_days)
        state = replace(state, settled_on=max(as_of, state.settled_on or as_of))
    contacts: list[ContactDecision] = []
    if state.in_episode and (state.evaluated_on is None or state.evaluated_on < as_of):
        fired = dict(state.fired)
        zone = timezone_of(state)
        arm = arm_of(state.account_id, config)
        for step in firing_steps(arm_strategy(arm, config), state.dpd(as_of), as_of, fired):
            window = contact_window(as_of, zone, config.window.start, config.window.end)
            reason = suppression_reason(state, step.channel, as_of, window.local_date, config)
            fired[step.id] = as_of
            where = None
            if reason is None:
                where = destination(state.profile, step.channel)
                if step.channel == "call":
                    state = replace(state, call_windows=_recent((*state.call_windows, window.local_date), config))
            contacts.append(ContactDecision(step, as_of, window, reason, where, arm))
        state = replace(state, fired=tuple(fired.items()), evaluated_on=as_of)
    return state, Evaluation(broken, breach, tuple(contacts))


def _recent(windows: tuple[date, ...], config: OutreachConfig) -> tuple[date, ...]:
    # Only the last `call_cap.days` days of windows can matter to the cap.
    newest = max(windows)
    return tuple(w for w in windows if w > newest - timedelta(days=config.call_cap.days))


def wake_on(state: AccountState, rules_grace_days: int) -> date | None:
    """The first close that needs this account: the next one while in an episode, else the day an
    unsettled promise or the active arrangement would break; None when no close needs it."""
    after = state.settled_on
    candidates: list[date] = []
    if state.in_episode:
        assert state.delinquent_since is not None
        candidates.append(state.evaluated_on + timedelta(days=1) if state.evaluated_on else state.delinquent_since)
    for promise in state.active_promises:
        candidates.append(promise.promised_on)
    arrangement = state.active_arrangement
    if arrangement is not None:
        when = breach_date(arrangement, rules_grace_days)
        if when is not None:
            candidates.append(when)
    if not candidates:
        return None
    first = min(candidates)
    if after is not None and first <= after:
        first = after + timedelta(days=1)
    return first
