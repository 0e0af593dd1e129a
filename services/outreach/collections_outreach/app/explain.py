"""Why outreach decided what it did for an account at business date D (behaviour.md, Explanations).

Recomputed from the account's events, never stored beside them: the events outreach handled for the
account and every close (app/inputs.py) are fed again, in handling order, to the same handler on a
scratch database, so the decision of each step is the one the handler makes (and published), with
whatever rules it has. For each step of the account's arm: `requested` (with `attempt_id`),
`suppressed` (with the reason as published), or `not_due` with the first of `not_delinquent`,
`below_from_dpd`, `above_to_dpd`, `fired_this_episode`, `not_yet_every_days` that applies. Each
decision names the ids of the events it rests on (`because`): the close of D, the delinquency event
that set dpd, and for a suppression the event(s) that made its reason hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from collections_events.config import PlatformConfig, Step
from collections_events.envelope import Envelope
from collections_events.ids import derive_id
from collections_events.runtime.scratch import scratch_runtime
from collections_events.runtime.service import ServiceSpec
from collections_events.store.database import Database
from collections_events.validation import Event, read_structured
from collections_outreach.domain.experiments import arm_of, arm_strategy
from collections_outreach.domain.state import AccountState, from_json
from collections_outreach.domain.steps import in_range
from collections_outreach.domain.suppression import in_rpc_cooldown, suppression_reason

CONTACT_TYPES = ("outreach.contact_requested", "outreach.contact_suppressed")
DELINQUENCY_TYPES = ("delinquency.bucket_changed", "delinquency.dpd_changed")
FLAG_REASONS = ("deceased", "bankruptcy", "cease_and_desist", "dispute")


class NotClosed(Exception):
    """The business date asked about has no close on record (the message is the one-line reason)."""


@dataclass(frozen=True)
class Fed:
    """One handled event fed again: the account's state before and after it, what it published."""

    event: Event
    before: AccountState
    after: AccountState
    emitted: tuple[Envelope, ...]

    @property
    def id(self) -> str:
        """The event's id."""
        event_id: str = self.event.id
        return event_id


async def refold(
    spec: ServiceSpec, config: PlatformConfig, account_id: str, rows: list[tuple[str, str, str]]
) -> list[Fed]:
    """Feed `rows` (app.inputs.read_inputs) to outreach's handler on a scratch SQLite database."""
    fed: list[Fed] = []
    async with scratch_runtime(spec, config) as runtime:
        state = AccountState(account_id)
        for _owner, topic, raw in rows:
            parsed = read_structured(json.loads(raw))
            if not isinstance(parsed, Event):
                continue
            emitted = tuple(await runtime.execute(parsed, topic))
            after = await _state(runtime.db, spec, account_id) or state
            fed.append(Fed(parsed, state, after, emitted))
            state = after
    return fed


async def _state(db: Database, spec: ServiceSpec, account_id: str) -> AccountState | None:
    t = spec.tables["snapshots"]
    async with db.transaction() as session:
        raw = await session.scalar(select(t.c.state).where(t.c.stream_id == account_id))
    return from_json(json.loads(raw)) if raw else None


def _bucket(config: PlatformConfig, dpd: int) -> str:
    name: str = config.delinquency.bucket_list[0].name
    for bucket in config.delinquency.bucket_list:
        if dpd >= bucket.from_dpd:
            name = bucket.name
    return name


def _contacts_at(fed: Fed, account_id: str, as_of: date) -> dict[str, Envelope]:
    return {
        e.data["step"]: e
        for e in fed.emitted
        if e.type in CONTACT_TYPES and e.data["account_id"] == account_id and e.data["as_of"] == as_of.isoformat()
    }


def explain_at(feds: list[Fed], account_id: str, as_of: date, config: PlatformConfig) -> dict[str, Any]:
    """The explanation (contract.md, Analysis commands) of `account_id` at business date `as_of`.

    Raises NotClosed when no close of `as_of` was handled.
    """
    closes = [
        i
        for i, f in enumerate(feds)
        if f.event.type == "day.closed" and f.event.envelope.data["as_of"] == as_of.isoformat()
    ]
    if not closes:
        raise NotClosed(f"{as_of.isoformat()} is not a closed business date")
    close_at = closes[-1]
    later = next((i for i in range(close_at + 1, len(feds)) if feds[i].event.type == "day.closed"), len(feds))
    evaluating = close_at
    for i in range(close_at, later):
        if _contacts_at(feds[i], account_id, as_of):
            evaluating = i
    fed = feds[evaluating]
    state = fed.after
    decided = _contacts_at(fed, account_id, as_of)
    dpd_event = next((f for f in reversed(feds[: evaluating + 1]) if f.event.type in DELINQUENCY_TYPES), None)
    base = [feds[close_at].id] + ([dpd_event.id] if dpd_event is not None else [])
    arm = arm_of(account_id, config.outreach)
    dpd = state.dpd(as_of) if state.in_episode else 0
    steps = []
    for step in arm_strategy(arm, config.outreach):
        published = decided.get(step.id)
        if published is not None and published.type == "outreach.contact_requested":
            steps.append(_line(step, "requested", None, published.data["attempt_id"], base))
        elif published is not None:
            reason = published.data["reason"]
            why = _suppressed_because(feds[: evaluating + 1], fed, state, step, reason, as_of, config)
            steps.append(_line(step, "suppressed", reason, None, [*base, *why]))
        else:
            reason = _not_due(state, step, dpd, as_of)
            last = state.last_fired(step.id) if state.in_episode else None
            extra = [f.id for f in feds if _is_close_of(f, last)] if last is not None else []
            steps.append(_line(step, "not_due", reason, None, [*base, *extra[-1:]]))
    return {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "dpd": dpd,
        "bucket": _bucket(config, dpd),
        "delinquent_since": state.delinquent_since.isoformat() if state.delinquent_since else None,
        "episode": state.episode,
        "strategy": arm,
        "steps": steps,
    }


def _is_close_of(fed: Fed, day: date | None) -> bool:
    return day is not None and fed.event.type == "day.closed" and fed.event.envelope.data["as_of"] == day.isoformat()


def _line(step: Step, decision: str, reason: str | None, attempt_id: str | None, because: list[str]) -> dict[str, Any]:
    return {
        "step": step.id,
        "channel": step.channel,
        "decision": decision,
        "reason": reason,
        "attempt_id": attempt_id,
        "because": list(dict.fromkeys(because)),
    }


def _not_due(state: AccountState, step: Step, dpd: int, as_of: date) -> str:
    """The first reason a step did not fire at `as_of` (behaviour.md, Explanations; domain.steps)."""
    if not state.in_episode:
        return "not_delinquent"
    if dpd < step.from_dpd:
        return "below_from_dpd"
    if not in_range(step, dpd):
        return "above_to_dpd"
    last = state.last_fired(step.id)
    if last is not None and step.every_days is None:
        return "fired_this_episode"
    return "not_yet_every_days"


def _suppressed_because(
    feds: list[Fed], fed: Fed, state: AccountState, step: Step, reason: str, as_of: date, config: PlatformConfig
) -> list[str]:
    """The ids of the events that made `reason` hold for `step` at `as_of`."""
    earlier = feds[:-1]
    kinds = {f.id: f.event.type for f in feds}

    def data(f: Fed) -> dict[str, Any]:
        found: dict[str, Any] = f.event.envelope.data
        return found

    if reason in FLAG_REASONS:
        sets = [f.id for f in feds if kinds[f.id] == "account.flag_set" and data(f)["flag"] == reason]
        return sets[-1:]
    if reason == "legal_hold":
        open_ids = {c for c, _ in state.open_cases}
        return [f.id for f in feds if kinds[f.id] == "legal.case_opened" and data(f)["case_id"] in open_ids][-1:]
    if reason == "promise_active":
        active = {p.promise_id for p in state.active_promises}
        return [f.id for f in feds if derive_id(f.id, "promise") in active]
    if reason == "arrangement_active" and state.active_arrangement is not None:
        wanted = state.active_arrangement.arrangement_id
        return [f.id for f in feds if derive_id(f.id, "arrangement") == wanted]
    profile_types = ("account.opened", "account.contacts_updated")
    if reason == "no_consent":
        consents = [f.id for f in feds if kinds[f.id] in profile_types and "consents" in data(f)]
        hardship = [f.id for f in feds if kinds[f.id] == "account.flag_set" and data(f)["flag"] == "hardship"]
        return consents[-1:] + (hardship[-1:] if "hardship" in state.flags else [])
    if reason == "no_destination":
        return [f.id for f in feds if kinds[f.id] in profile_types and "contacts" in data(f)][-1:]
    window_date = as_of + timedelta(days=1)
    if reason == "rpc_cooldown":
        return [
            f.id
            for f in feds
            if kinds[f.id] == "contact.result_reported"
            and data(f)["outcome"] == "answered_rpc"
            and in_rpc_cooldown(
                replace(state, rpc_at=(data(f)["occurred_at"],)), window_date, config.outreach.rpc_cooldown_days
            )
        ]
    if reason == "frequency_cap":
        first = as_of - timedelta(days=config.outreach.call_cap.days)
        return [
            f.id
            for f in feds
            if any(
                e.type == "outreach.contact_requested"
                and e.data["channel"] == "call"
                and date.fromisoformat(e.data["as_of"]) >= first
                for e in f.emitted
            )
        ]
    # Any other reason (one added later): the last event after which the domain's own rule gives it.
    held = [suppression_reason(f.after, step.channel, as_of, window_date, config.outreach) == reason for f in earlier]
    for i in range(len(held) - 1, -1, -1):
        if held[i] and (i == 0 or not held[i - 1]):
            return [earlier[i].id]
    return []
