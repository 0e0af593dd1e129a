"""Turning the domain's decisions into published events (and trail records) in a unit of work.

Purposes (docs/decisions/0004) carry the account and the step or promise/arrangement id, because a
day close decides for many accounts under one cause.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from collections_events import outbound
from collections_events.ids import derive_id
from collections_events.store.uow import UnitOfWork
from collections_outreach.app.trail_store import append_record
from collections_outreach.domain.arrangements import Breach
from collections_outreach.domain.evaluate import ContactDecision, Evaluation
from collections_outreach.domain.state import AccountState, Arrangement, Promise
from collections_outreach.domain.suppression import calls_in_window
from collections_outreach.domain.trail import ChainHead, make_record


def cause_id(uow: UnitOfWork) -> str:
    """The id of the event being handled."""
    assert uow.cause is not None
    cause: str = uow.cause.id
    return cause


def promise_event(uow: UnitOfWork, type_name: str, account_id: str, promise: Promise) -> None:
    """`outreach.promise_recorded` / `_kept` / `_broken` for `promise`."""
    uow.emit(
        type_name,
        outbound.PromiseEvent(
            promise_id=promise.promise_id,
            account_id=account_id,
            amount_minor=promise.amount_minor,
            promised_on=promise.promised_on,
        ),
        purpose=f"{type_name}:{promise.promise_id}",
    )


def arrangement_completed(uow: UnitOfWork, account_id: str, arrangement: Arrangement) -> None:
    """`outreach.arrangement_completed` (the ledger then waives a settlement's remainder)."""
    uow.emit(
        "outreach.arrangement_completed",
        outbound.ArrangementCompleted(
            arrangement_id=arrangement.arrangement_id,
            account_id=account_id,
            kind=arrangement.kind,
            made_on=arrangement.made_on,
            paid_minor=arrangement.counted_minor,
        ),
        purpose=f"arrangement_completed:{arrangement.arrangement_id}",
    )


def arrangement_broken(uow: UnitOfWork, account_id: str, breach: Breach) -> None:
    """`outreach.arrangement_broken` as of the close that broke it."""
    uow.emit(
        "outreach.arrangement_broken",
        outbound.ArrangementBroken(
            arrangement_id=breach.arrangement.arrangement_id,
            account_id=account_id,
            as_of=breach.as_of,
            installment=breach.installment,
            due_on=breach.due_on,
            paid_minor=breach.paid_minor,
            expected_minor=breach.expected_minor,
        ),
        purpose=f"arrangement_broken:{breach.arrangement.arrangement_id}",
    )


async def record_contact(
    uow: UnitOfWork,
    state: AccountState,
    *,
    record_id: str,
    attempt_id: str | None,
    kind: str,
    channel: str,
    outcome: str | None,
    occurred_at: str,
    as_of: str | None,
    purpose: str,
    agency_id: str | None = None,
) -> tuple[AccountState, outbound.ContactRecorded]:
    """Append one record to the account's trail and publish it as `outreach.contact_recorded`.

    The chain's head is kept in the account's state (written in the same transaction as the trail).
    """
    head = ChainHead(state.trail_sequence, state.trail_hash)
    record = make_record(
        head,
        record_id=record_id,
        account_id=state.account_id,
        attempt_id=attempt_id,
        kind=kind,
        channel=channel,
        outcome=outcome,
        occurred_at=occurred_at,
        as_of=as_of,
        agency_id=agency_id,
    )
    data = outbound.ContactRecorded.model_validate(record)
    append_record(uow, record)
    uow.emit("outreach.contact_recorded", data, purpose=purpose)
    return replace(state, trail_sequence=data.sequence, trail_hash=data.hash), data


async def contact_decision(uow: UnitOfWork, state: AccountState, decision: ContactDecision) -> AccountState:
    """A fired step: `outreach.contact_suppressed`, or `outreach.contact_requested` and its record."""
    step = decision.step
    account_id = state.account_id
    metrics = uow.metrics
    if step.channel == "call" and metrics is not None:
        # Compliance dashboards show how close accounts come to the 7-in-7 cap (call-cap headroom).
        cap = uow.config.outreach.call_cap
        used = calls_in_window(state, decision.as_of + timedelta(days=1), cap.days)
        metrics.call_cap_checked(used, cap.calls)
    if decision.reason is not None:
        uow.emit(
            "outreach.contact_suppressed",
            outbound.ContactSuppressed(
                account_id=account_id,
                channel=step.channel,
                template=step.template,
                step=step.id,
                reason=decision.reason,
                as_of=decision.as_of,
                strategy=decision.strategy,
            ),
            purpose=f"suppressed:{step.id}:{account_id}",
        )
        return state
    cause = cause_id(uow)
    attempt_id = derive_id(cause, f"attempt:{account_id}:{step.id}")
    assert decision.destination is not None
    uow.emit(
        "outreach.contact_requested",
        outbound.ContactRequested(
            attempt_id=attempt_id,
            account_id=account_id,
            channel=step.channel,
            template=step.template,
            destination=decision.destination,
            not_before=decision.window.not_before,
            not_after=decision.window.not_after,
            step=step.id,
            as_of=decision.as_of,
            strategy=decision.strategy,
        ),
        purpose=f"request:{step.id}:{account_id}",
    )
    assert uow.cause is not None
    state, _ = await record_contact(
        uow,
        state,
        record_id=derive_id(cause, f"record:{account_id}:{step.id}"),
        attempt_id=attempt_id,
        kind="requested",
        channel=step.channel,
        outcome=None,
        occurred_at=uow.cause.time,
        as_of=decision.as_of.isoformat(),
        purpose=f"recorded:{step.id}:{account_id}",
    )
    return state


async def evaluation(uow: UnitOfWork, state: AccountState, result: Evaluation) -> AccountState:
    """Publish one close's decisions for one account, in the spec's order; the trail's head moves."""
    account_id = state.account_id
    for promise in result.broken_promises:
        promise_event(uow, "outreach.promise_broken", account_id, promise)
    if result.breach is not None:
        arrangement_broken(uow, account_id, result.breach)
    for decision in result.contacts:
        state = await contact_decision(uow, state, decision)
    return state


def evaluation_events(account_id: str, result: Evaluation) -> list[tuple[str, dict[str, Any]]]:
    """The (type, data) pairs `evaluation` publishes that the experiment figures count (no envelopes
    rebuilt: a close's figures come from the domain's decisions)."""
    pairs: list[tuple[str, dict[str, Any]]] = [("outreach.promise_broken", {}) for _ in result.broken_promises]
    if result.breach is not None:
        pairs.append(("outreach.arrangement_broken", {}))
    for decision in result.contacts:
        if decision.reason is None:
            pairs.append(("outreach.contact_requested", {"channel": decision.step.channel}))
        else:
            pairs.append(("outreach.contact_suppressed", {"reason": decision.reason}))
    return pairs
