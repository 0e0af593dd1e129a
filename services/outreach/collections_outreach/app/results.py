"""Contact results and arrangements: the trail, right-party cooldowns, promises, plans and settlements.

behaviour.md (Outreach; Arrangements). A result's day (a promise's day, an arrangement's `made_on`,
a cooldown's first day) is its `occurred_at` in the customer's timezone (UTC while the account is
unknown). Acceptance of an arrangement is decided when it arrives.
"""

from __future__ import annotations

from dataclasses import replace

from collections_events import inbound, outbound
from collections_events.ids import derive_id
from collections_events.store.uow import UnitOfWork
from collections_outreach.app import publish
from collections_outreach.app.agency_results import check_conduct, refusal, remember_call
from collections_outreach.domain.arrangements import decline_reason, make_arrangement
from collections_outreach.domain.promises import record_promise
from collections_outreach.domain.state import AccountState
from collections_outreach.domain.suppression import timezone_of
from collections_outreach.domain.window import local_date


async def on_result(uow: UnitOfWork, state: AccountState, data: inbound.ContactResultReported) -> AccountState:
    """Record a `contact.result_reported` on the trail; start a cooldown; take its promise or arrangement.

    An agency's result (`agency_id`) is recorded with its `agency_id` and checked for conduct
    breaches. Rejected (`system.event_rejected`, nothing recorded), naming the field: an agency
    that is not configured, a promise or an arrangement on a result whose outcome says nobody was
    reached (`NOBODY_REACHED`). An `attempt_id` not on the trail is recorded all the same: the result
    may be read before the close that issued it (behaviour.md, Time and order).
    """
    reason = refusal(uow.config, data) or await _invalid_result(uow, data)
    if reason is not None:
        uow.reject(reason)
        return state
    cause = publish.cause_id(uow)
    before = state
    state, record = await publish.record_contact(
        uow,
        state,
        record_id=derive_id(cause, "record"),
        attempt_id=data.attempt_id,
        kind="result",
        channel=data.channel,
        outcome=data.outcome,
        occurred_at=data.occurred_at,
        as_of=None,
        purpose="recorded",
        agency_id=data.agency_id,
    )
    if data.agency_id is not None:
        await check_conduct(uow, before, data, record)
    state = remember_call(uow, state, data)
    day = local_date(data.occurred_at, timezone_of(state))
    if data.outcome == "answered_rpc":
        state = replace(state, rpc_at=(*state.rpc_at, data.occurred_at), rpc_days=(*state.rpc_days, day))
    if data.promise is not None:
        state, promise = record_promise(
            state, derive_id(cause, "promise"), data.promise.amount_minor, data.promise.promised_on, day
        )
        publish.promise_event(uow, "outreach.promise_recorded", data.account_id, promise)
        if promise.status == "kept":
            publish.promise_event(uow, "outreach.promise_kept", data.account_id, promise)
    if data.arrangement is not None:
        state = on_arrangement(uow, state, data.arrangement, data.occurred_at)
    return state


NOBODY_REACHED = frozenset({"failed", "expired", "no_answer", "busy", "voicemail", "wrong_number"})
"""Outcomes on which no one could have agreed to pay (a third party answering may pass a promise on)."""


async def _invalid_result(uow: UnitOfWork, data: inbound.ContactResultReported) -> str | None:
    for name in ("promise", "arrangement"):
        if getattr(data, name) is not None and data.outcome in NOBODY_REACHED:
            return (
                f"data.{name}: a {name} needs a contact that reached someone; "
                f"this {data.channel} result has outcome {data.outcome}"
            )
    return None


def on_arrangement(
    uow: UnitOfWork, state: AccountState, terms: inbound.ArrangementTerms, occurred_at: str
) -> AccountState:
    """Accept (`outreach.arrangement_made`) or decline (`outreach.arrangement_declined`) an arrangement."""
    made_on = local_date(occurred_at, timezone_of(state))
    installments = [(i.due_on, i.amount_minor) for i in terms.installments]
    reason = decline_reason(state, terms.kind, installments, made_on, uow.config.outreach.arrangements)
    if reason is not None:
        uow.emit(
            "outreach.arrangement_declined",
            outbound.ArrangementDeclined(account_id=state.account_id, kind=terms.kind, reason=reason),
            purpose="arrangement_declined",
        )
        return state
    arrangement_id = derive_id(publish.cause_id(uow), "arrangement")
    state, arrangement = make_arrangement(state, arrangement_id, terms.kind, installments, made_on)
    uow.emit(
        "outreach.arrangement_made",
        outbound.ArrangementMade(
            arrangement_id=arrangement_id,
            account_id=state.account_id,
            kind=terms.kind,
            installments=list(terms.installments),
            total_minor=terms.total_minor,
            made_on=made_on,
        ),
        purpose="arrangement_made",
    )
    if arrangement.status == "completed":
        publish.arrangement_completed(uow, state.account_id, arrangement)
    return state
