"""The referral rule at a close D, and the first date it can next hold (behaviour.md, Legal).

On `day.closed` D open one case for an account with dpd >= `referral_dpd` (90), no `dispute`,
`bankruptcy` or `deceased` flag, no active promise, no active arrangement, and at least
`min_contact_attempts` (3) requested contacts whose `as_of` is before D; never a second open case.

`wake_on` is the earliest close at which the rule can hold given what is known now (None: not
until a new fact arrives). A close only looks at accounts whose wake date has come, so its cost
grows with the accounts that may be referred that day, not with every delinquent account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from collections_legal.domain.account import (
    BLOCKING_FLAGS,
    LegalAccount,
    active_arrangement,
    active_promise,
    attempts_before,
    past_due,
)

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class ReferralRules:
    """`legal.referral_dpd` (at least 1) and `legal.min_contact_attempts` (0 or more)."""

    referral_dpd: int = 90
    min_contact_attempts: int = 3
    min_past_due_minor: int = 0


@dataclass(frozen=True)
class Referral:
    """Open a case at `as_of` with these facts (contract.md, legal.case_opened)."""

    account_id: str
    as_of: date
    dpd: int
    past_due_minor: int
    contact_attempts: int


@dataclass(frozen=True)
class NoReferral:
    """Why an account is not referred at a close (the first reason that applies)."""

    reason: str


def decide_referral(account: LegalAccount, on: date, rules: ReferralRules) -> Referral | NoReferral:
    """Apply the referral rule at the close of business date `on`."""
    dpd, past_due_minor = past_due(account, on)
    attempts = attempts_before(account, on)
    if account.open_case_id is not None:
        return NoReferral("case_open")
    if account.placement is not None:
        return NoReferral("placed")
    if account.hold_until_cure:
        return NoReferral("closed_until_cure")
    if dpd < rules.referral_dpd:
        return NoReferral("dpd_below_referral")
    if past_due_minor < rules.min_past_due_minor:
        return NoReferral("below_min_past_due")
    blocking = sorted(account.flags & BLOCKING_FLAGS)
    if blocking:
        return NoReferral(blocking[0])
    if active_promise(account, on):
        return NoReferral("promise_active")
    if active_arrangement(account, on):
        return NoReferral("arrangement_active")
    if attempts < rules.min_contact_attempts:
        return NoReferral("too_few_contact_attempts")
    return Referral(account.account_id, on, dpd, past_due_minor, attempts)


def wake_on(account: LegalAccount, rules: ReferralRules) -> date | None:
    """The first close D at which `decide_referral` can refer, from the facts known now.

    Each condition gives a lower bound on D; a condition that no passing of time can meet
    (an open case, a blocking flag, an active arrangement with no end, too few requests) gives None.
    """
    if account.open_case_id is not None or account.hold_until_cure or account.flags & BLOCKING_FLAGS:
        return None
    if account.placement is not None or not account.unpaid_dues:
        return None
    bounds = [min(d.due_date for d in account.unpaid_dues) + timedelta(days=rules.referral_dpd)]
    if rules.min_past_due_minor > 0:
        # past_due_minor at D sums the dues dated before D: it grows as dues fall due.
        running = 0
        for due in sorted(account.unpaid_dues, key=lambda d: d.due_date):
            running += due.unpaid_minor
            if running >= rules.min_past_due_minor:
                bounds.append(due.due_date + ONE_DAY)
                break
        else:
            return None
    needed = rules.min_contact_attempts
    if needed > 0:
        seen = 0
        for as_of, count in account.requests:
            seen += count
            if seen >= needed:
                bounds.append(as_of + ONE_DAY)
                break
        else:
            return None
    for promise in account.promises:
        if promise.status != "kept":
            bounds.append(promise.promised_on + ONE_DAY)
    for arrangement in account.arrangements:
        if arrangement.status == "active" or (arrangement.status == "broken" and arrangement.ended_as_of is None):
            return None
        if arrangement.status == "broken" and arrangement.ended_as_of is not None:
            bounds.append(arrangement.ended_as_of + ONE_DAY)
    return max(bounds)
