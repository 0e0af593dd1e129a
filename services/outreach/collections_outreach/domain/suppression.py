"""Whether a step that fires may ask for a contact, and the first reason it may not.

behaviour.md (Outreach), checked in this order: deceased, bankruptcy, legal_hold, placed, cease_and_desist,
dispute, promise_active, arrangement_active, no_consent, no_destination, rpc_cooldown,
frequency_cap. Dates: `as_of` is the business date being evaluated (D); `window_date` the local date
of the contact window (D+1).
"""

from __future__ import annotations

from datetime import date, timedelta

from collections_events.config import OutreachConfig
from collections_outreach.domain.placement import placed_hold
from collections_outreach.domain.state import AccountState, Profile
from collections_outreach.domain.window import UTC_ZONE

CONSENT_OF = {"sms": "sms", "email": "email", "push": "push", "call": "autodialed_calls"}
"""The consent each channel needs (letters need none)."""

BLOCKING_FLAGS = ("deceased", "bankruptcy")
PAUSING_FLAGS = ("cease_and_desist", "dispute")


def destination(profile: Profile | None, channel: str) -> str | None:
    """Where a contact on `channel` goes (personal data: never log it), or None when there is nowhere.

    sms: the first mobile phone; call: the first mobile, else home, else work; email: the first
    email; push: the customer id (the push provider resolves devices); letter: the postal address.
    """
    if profile is None:
        return None
    phones = profile.phones
    if channel == "sms":
        return next((n for n, k in phones if k == "mobile"), None)
    if channel == "call":
        for kind in ("mobile", "home", "work"):
            found = next((n for n, k in phones if k == kind), None)
            if found:
                return found
        return None
    if channel == "email":
        return profile.emails[0] if profile.emails else None
    if channel == "push":
        return profile.customer_id
    if channel == "letter":
        return profile.postal_address or None
    return None


def timezone_of(state: AccountState) -> str:
    """The customer's timezone; UTC for an account outreach has not been told about yet."""
    return state.profile.timezone if state.profile else UTC_ZONE


def legal_hold(state: AccountState, as_of: date) -> bool:
    """An open case holds outreach from the first evaluation after the case's `as_of`."""
    return any(opened < as_of for _, opened in state.open_cases)


def in_rpc_cooldown(state: AccountState, window_date: date, cooldown_days: int) -> bool:
    """Whether `window_date` falls in the `cooldown_days` consecutive days that begin with the local
    date of an `answered_rpc` result, that day fixed when the result was recorded (`rpc_days`)."""
    if cooldown_days <= 0:
        return False
    for start in state.rpc_days:
        if start <= window_date <= start + timedelta(days=cooldown_days - 1):
            return True
    return False


def calls_in_window(state: AccountState, window_date: date, days: int) -> int:
    """Call requests whose window dates fall in [window_date - days + 1, window_date]."""
    first = window_date - timedelta(days=days - 1)
    return sum(1 for w in state.call_windows if first <= w <= window_date)


def over_call_cap(state: AccountState, window_date: date, calls: int, days: int) -> bool:
    """Whether one more call in `window_date` would make more than `calls` call requests whose
    windows fall in some `days` consecutive days (counted over [window_date - days + 1, window_date])."""
    return calls_in_window(state, window_date, days) >= calls


def suppression_reason(
    state: AccountState, channel: str, as_of: date, window_date: date, config: OutreachConfig
) -> str | None:
    """The first reason a `channel` contact may not be asked for at the close of `as_of`, or None."""
    flags = state.flags
    for flag in BLOCKING_FLAGS:
        if flag in flags:
            return flag
    if legal_hold(state, as_of):
        return "legal_hold"
    if placed_hold(state, as_of):
        return "placed"
    for flag in PAUSING_FLAGS:
        if flag in flags:
            return flag
    if state.active_promises:
        return "promise_active"
    if state.active_arrangement is not None:
        return "arrangement_active"
    if channel != "letter":
        granted = state.profile is not None and state.profile.consent(CONSENT_OF[channel])
        if not granted or "hardship" in flags:
            return "no_consent"
    if destination(state.profile, channel) is None:
        return "no_destination"
    if channel == "call":
        if in_rpc_cooldown(state, window_date, config.rpc_cooldown_days):
            return "rpc_cooldown"
        if over_call_cap(state, window_date, config.call_cap.calls, config.call_cap.days):
            return "frequency_cap"
    return None
