"""Folding what other systems say about an account into outreach's state.

Accounts topic (profile, flags), delinquency (the episode), legal (holds) and billing (statement
balances for the settlement floor). Each function is pure and returns the new state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from collections_outreach.domain.promises import keep_all
from collections_outreach.domain.state import AccountState, Profile, Promise


def _phones(contacts: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(p["number"]), str(p["kind"])) for p in contacts.get("phones", []))


def _consents(consents: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    return tuple((k, bool(consents[k])) for k in ("sms", "email", "push", "autodialed_calls") if k in consents)


def apply_opened(state: AccountState, data: Mapping[str, Any]) -> AccountState:
    """`account.opened` (data as JSON): the customer's profile, timezone, contacts and consents."""
    contacts = data["contacts"]
    profile = Profile(
        customer_id=str(data["customer_id"]),
        timezone=str(data["timezone"]),
        phones=_phones(contacts),
        emails=tuple(contacts.get("emails", [])),
        postal_address=contacts.get("postal_address"),
        consents=_consents(data["consents"]),
    )
    return replace(state, profile=profile)


def apply_contacts_updated(state: AccountState, data: Mapping[str, Any]) -> AccountState:
    """`account.contacts_updated`: each of timezone, contacts, consents given replaces the old one whole.

    Before `account.opened` the update is kept on an unknown-customer profile (timezone UTC until
    told), and `account.opened` then replaces it whole.
    """
    profile = state.profile or Profile(customer_id=state.account_id, timezone="UTC")
    if data.get("timezone") is not None:
        profile = replace(profile, timezone=str(data["timezone"]))
    contacts = data.get("contacts")
    if contacts is not None:
        profile = replace(
            profile,
            phones=_phones(contacts),
            emails=tuple(contacts.get("emails", [])),
            postal_address=contacts.get("postal_address"),
        )
    if data.get("consents") is not None:
        profile = replace(profile, consents=_consents(data["consents"]))
    return replace(state, profile=profile)


def apply_flag(state: AccountState, flag: str, is_set: bool) -> AccountState:
    """`account.flag_set` / `account.flag_cleared`."""
    flags = state.flags | {flag} if is_set else state.flags - {flag}
    return replace(state, flags=flags)


def apply_statement(state: AccountState, due_id: str, due_date: date, statement_balance_minor: int) -> AccountState:
    """`payment.due`: keep its statement balance (due_id is the business key)."""
    if any(k == due_id for k, _, _ in state.statements):
        return state
    return replace(state, statements=(*state.statements, (due_id, due_date, statement_balance_minor)))


def apply_case(state: AccountState, case_id: str, as_of: date, opened: bool) -> AccountState:
    """`legal.case_opened` / `legal.case_closed`: an open case holds outreach after its `as_of`."""
    cases = tuple(c for c in state.open_cases if c[0] != case_id)
    if opened:
        cases = (*cases, (case_id, as_of))
    return replace(state, open_cases=cases)


@dataclass(frozen=True)
class DelinquencyChange:
    """What a `bucket_changed`/`dpd_changed` did: an episode started, a cure (with promises kept)."""

    started: bool = False
    cured: bool = False
    kept: Sequence[Promise] = ()


def apply_delinquency(state: AccountState, delinquent_since: date | None) -> tuple[AccountState, DelinquencyChange]:
    """Take delinquency's `delinquent_since` (null: current). A new episode resets the steps' state,
    including the date it was last evaluated: an episode that starts after D's close (a reversal
    between closes, published as of D) is evaluated as of D at once even when the episode before it
    was already evaluated for D (behaviour.md, Time and order). A cure keeps every unsettled promise
    (an arrangement keeps its own rules)."""
    before = state.delinquent_since
    if before is None and delinquent_since is not None:
        started = replace(
            state, delinquent_since=delinquent_since, episode=state.episode + 1, fired=(), evaluated_on=None
        )
        return started, DelinquencyChange(started=True)
    if before is not None and delinquent_since is None:
        cured, kept = keep_all(replace(state, delinquent_since=None, fired=()))
        return cured, DelinquencyChange(cured=True, kept=kept)
    return replace(state, delinquent_since=delinquent_since), DelinquencyChange()
