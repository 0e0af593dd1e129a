"""Why legal referred, placed or recalled an account at business date D, or did not
(behaviour.md, Explanations: "each referral and placement condition at D with its value and whether
it held").

Recomputed from the account's events, never stored beside them: the events legal handled for the
account and every close (app/inputs.py) up to the close of D are fed again to the same handler on a
scratch database (runtime/scratch.py). The account as legal knew it just before that close gives
each condition's value (the domain's own functions: domain/referral.py, domain/placement.py); then
the close of D itself is fed, and what it published is the decision, so the explanation and what was
published cannot disagree without the explanation showing it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.runtime.scratch import scratch_runtime
from collections_events.runtime.service import ServiceSpec
from collections_events.store.clock import CLOCK_STREAM
from collections_events.store.handled_inputs import InputRow
from collections_events.validation import Event, read_structured
from collections_legal.app.state import AccountStore
from collections_legal.domain.account import (
    BLOCKING_FLAGS,
    LegalAccount,
    active_arrangements,
    active_promises,
    attempts_before,
    past_due,
)
from collections_legal.domain.placement import PlacementRules, decide_recall, recall
from collections_legal.domain.referral import ReferralRules

DECISION_TYPES = ("legal.case_opened", "legal.account_placed", "legal.placement_recalled")


class NotClosed(Exception):
    """The business date asked about has no close on record (the message is the one-line reason)."""


def _close_date(row: InputRow) -> str | None:
    owner, _, raw = row
    if owner != CLOCK_STREAM:
        return None
    as_of: str = json.loads(raw)["data"]["as_of"]
    return as_of


async def explain_referral(
    spec: ServiceSpec, config: PlatformConfig, account_id: str, as_of: date, rows: list[InputRow]
) -> dict[str, Any]:
    """The referral and placement conditions of `account_id` at the close of `as_of`, and what
    legal published at that close. `rows` are the account's handled inputs (HANDLED.read).

    Raises NotClosed when legal handled no close of `as_of`.
    """
    at = next((i for i, row in enumerate(rows) if _close_date(row) == as_of.isoformat()), None)
    if at is None:
        raise NotClosed(f"{as_of.isoformat()} is not a closed business date")
    async with scratch_runtime(spec, config) as runtime:
        for _owner, topic, raw in rows[:at]:
            await _feed(runtime, topic, raw)
        async with runtime.db.transaction() as session:
            store = AccountStore(runtime.unit_of_work(session))
            account, _ = await store.load(account_id)
            rules, placing = store.rules, store.placement_rules
        published = [
            e for e in await _feed(runtime, rows[at][1], rows[at][2]) if e.data.get("account_id") == account_id
        ]
    decisions = {e.type: e for e in published if e.type in DECISION_TYPES}
    return {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "because": [json.loads(rows[at][2])["id"]],
        "referral": _referral(account, as_of, rules, decisions.get("legal.case_opened")),
        "placement": _placement(account, as_of, placing, decisions),
    }


async def _feed(runtime: ServiceRuntime, topic: str, raw: str) -> list[Envelope]:
    parsed = read_structured(json.loads(raw))
    return await runtime.execute(parsed, topic) if isinstance(parsed, Event) else []


def _condition(name: str, value: Any, held: bool, threshold: Any = None) -> dict[str, Any]:
    line = {"condition": name, "value": value, "held": held}
    if threshold is not None:
        line["threshold"] = threshold
    return line


def _common(account: LegalAccount, on: date, dpd_name: str, dpd_threshold: int) -> list[dict[str, Any]]:
    """The conditions the referral and the placement rules share (behaviour.md, Legal and Agencies)."""
    dpd, _ = past_due(account, on)
    flags = sorted(account.flags & BLOCKING_FLAGS)
    promises = [p.promise_id for p in active_promises(account, on)]
    arrangements = [a.arrangement_id for a in active_arrangements(account, on)]
    return [
        _condition(dpd_name, dpd, dpd >= dpd_threshold and dpd > 0, dpd_threshold),
        _condition("no_blocking_flag", flags, not flags),
        _condition("no_active_promise", promises, not promises),
        _condition("no_active_arrangement", arrangements, not arrangements),
    ]


def _referral(account: LegalAccount, on: date, rules: ReferralRules, opened: Envelope | None) -> dict[str, Any]:
    """The referral rule's conditions at the close of `on`, in domain/referral.py's order."""
    _, past_due_minor = past_due(account, on)
    attempts = attempts_before(account, on)
    placement_id = account.placement.placement_id if account.placement else None
    dpd, flags, promise, arrangement = _common(account, on, "dpd_at_least", rules.referral_dpd)
    conditions = [
        _condition("no_open_case", account.open_case_id, account.open_case_id is None),
        _condition("not_placed", placement_id, placement_id is None),
        _condition("no_hold_until_cure", account.hold_until_cure, not account.hold_until_cure),
        dpd,
        _condition(
            "past_due_minor_at_least",
            past_due_minor,
            past_due_minor >= rules.min_past_due_minor,
            rules.min_past_due_minor,
        ),
        flags,
        promise,
        arrangement,
        _condition(
            "contact_attempts_at_least", attempts, attempts >= rules.min_contact_attempts, rules.min_contact_attempts
        ),
    ]
    return {
        "decision": "case_opened" if opened is not None else "not_referred",
        "case_id": opened.data["case_id"] if opened is not None else None,
        "because": [opened.id] if opened is not None else [],
        "conditions": conditions,
    }


def _placement(
    account: LegalAccount, on: date, rules: PlacementRules, decisions: dict[str, Envelope]
) -> dict[str, Any]:
    """The recall of an open placement and the placement rule at the close of `on`, after the
    referral (a case opened at D wins; domain/placement.py's order)."""
    opened, placed, recalled = (decisions.get(t) for t in DECISION_TYPES)
    if opened is not None:
        account = replace(account, open_case_id=str(opened.data["case_id"]))
    recall_lines: list[dict[str, Any]] = []
    if account.placement is not None:
        due = decide_recall(account, on)
        dpd, _ = past_due(account, on)
        recall_lines = [
            *(
                _condition(flag, flag in account.flags, flag in account.flags)
                for flag in ("bankruptcy", "deceased", "dispute")
            ),
            _condition("cured", dpd, dpd == 0),
            _condition("expired", account.placement.recall_on.isoformat(), on >= account.placement.recall_on),
        ]
        if due is not None:
            account = recall(account, due)
    placement_id = account.placement.placement_id if account.placement else None
    conditions = [
        _condition("agencies_configured", len(rules.agencies), bool(rules.agencies)),
        _condition("no_open_case", account.open_case_id, account.open_case_id is None),
        _condition("no_open_placement", placement_id, placement_id is None),
        _condition("no_earlier_placement_in_episode", account.placed_in_episode, not account.placed_in_episode),
        *_common(account, on, "dpd_at_least", rules.from_dpd),
    ]
    decision = "placed" if placed is not None else "not_placed"
    return {
        "decision": decision,
        "placement_id": placed.data["placement_id"] if placed is not None else None,
        "recall": {
            "decision": "recalled" if recalled is not None else ("kept" if recall_lines else None),
            "reason": recalled.data["reason"] if recalled is not None else None,
            "conditions": recall_lines,
        },
        "because": [e.id for e in (recalled, placed) if e is not None],
        "conditions": conditions,
    }
