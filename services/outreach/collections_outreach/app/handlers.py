"""Outreach's handler for every event it consumes (behaviour.md, Outreach and Arrangements;
docs/decisions/0001 for the order-free rules).

Accounts, billing, payments, results and legal events fold into the account's snapshot; delinquency
events move the episode; `day.closed` D evaluates every account whose snapshot wakes on or before D.
An account is evaluated with its steps at most once per business date, when outreach knows both
that D closed and its delinquency as of D (whichever arrives second).
"""

from __future__ import annotations

from datetime import date

import structlog

from collections_events import inbound, outbound
from collections_events.store import clock
from collections_events.store.clock import CLOCK_STREAM
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event
from collections_outreach.app import publish
from collections_outreach.app.inputs import CLOCK, log_input
from collections_outreach.app.results import on_arrangement, on_result
from collections_outreach.app.store import end_treatment, load_account, load_accounts, save_account
from collections_outreach.domain import account as fold
from collections_outreach.domain import experiment_figures as figures
from collections_outreach.domain.evaluate import evaluate
from collections_outreach.domain.experiments import arm_of
from collections_outreach.domain.payments import apply_payment, apply_reversal
from collections_outreach.domain.placement import apply_placed, apply_recalled
from collections_outreach.domain.state import AccountState

log = structlog.get_logger("collections.outreach")
CHUNK = 500
"""Accounts loaded per query at a close."""


async def handle(event: Event, uow: UnitOfWork) -> None:
    """Fold `event` into outreach's state and publish what it decides."""
    data = event.data
    if isinstance(data, inbound.DayClosed):
        await close_day(uow, data.as_of, event)
        return
    account_id: str | None = getattr(data, "account_id", None)
    if account_id is None:
        return
    log_input(uow, event.envelope, account_id)
    if isinstance(data, outbound.ChargedOff):
        await end_treatment(uow, account_id)
        return
    loaded = await load_account(uow, account_id)
    state = await _apply(uow, event, loaded.state)
    state = _tally(uow, event, loaded.state, state)
    await save_account(uow, loaded, state)


def _tally(uow: UnitOfWork, event: Event, before: AccountState, state: AccountState) -> AccountState:
    """Each arm's per-episode figures (GET /experiments), from the event and what it made outreach publish."""
    data = event.data
    if isinstance(data, outbound.BucketChanged | outbound.DpdChanged):
        state = figures.on_delinquency(before, state, arm_of(state.account_id, uow.config.outreach), data.as_of)
    elif isinstance(data, inbound.PaymentReceived) and state.payments != before.payments:
        state = figures.on_payment(state, data.payment_id, data.amount_minor)
    elif isinstance(data, inbound.PaymentReversed):
        state = figures.on_payment(state, data.payment_id, None)
    elif isinstance(data, inbound.ContactResultReported):
        state = figures.on_result(state, data.outcome)
    return figures.on_emitted(state, ((e.type, e.data) for e in uow.emitted))


async def _apply(uow: UnitOfWork, event: Event, state: AccountState) -> AccountState:
    data = event.data
    kind = event.type
    if isinstance(data, inbound.AccountOpened):
        return fold.apply_opened(state, event.envelope.data)
    if isinstance(data, inbound.AccountContactsUpdated):
        return fold.apply_contacts_updated(state, event.envelope.data)
    if isinstance(data, inbound.AccountFlagChanged):
        return fold.apply_flag(state, data.flag, kind == "account.flag_set")
    if isinstance(data, inbound.PaymentDue):
        return fold.apply_statement(state, data.due_id, data.due_date, data.statement_balance_minor)
    if isinstance(data, inbound.PaymentReceived):
        state, outcome = apply_payment(state, data.payment_id, data.amount_minor, data.received_on)
        for promise in outcome.kept:
            publish.promise_event(uow, "outreach.promise_kept", state.account_id, promise)
        if outcome.completed is not None:
            publish.arrangement_completed(uow, state.account_id, outcome.completed)
        return state
    if isinstance(data, inbound.PaymentReversed):
        return apply_reversal(state, data.payment_id)
    if isinstance(data, outbound.BucketChanged | outbound.DpdChanged):
        return await _delinquency(uow, state, data.delinquent_since, data.as_of)
    if isinstance(data, outbound.CaseOpened | outbound.CaseClosed):
        return fold.apply_case(state, data.case_id, data.as_of, kind == "legal.case_opened")
    if isinstance(data, outbound.AccountPlaced):
        return apply_placed(state, data.placement_id, data.agency_id, data.as_of)
    if isinstance(data, outbound.PlacementRecalled):
        return apply_recalled(state, data.placement_id, data.agency_id, data.as_of)
    if isinstance(data, inbound.ContactResultReported):
        return await on_result(uow, state, data)
    if isinstance(data, outbound.ArrangementRequested):
        return on_arrangement(uow, state, data, data.occurred_at)
    return state


async def _delinquency(uow: UnitOfWork, state: AccountState, since: date | None, as_of: date) -> AccountState:
    """Take delinquency's `delinquent_since`; a cure keeps the unsettled promises; an episode that
    starts as of an already closed date is evaluated at once as of the last close (window D+1)."""
    state, change = fold.apply_delinquency(state, since)
    for promise in change.kept:
        publish.promise_event(uow, "outreach.promise_kept", state.account_id, promise)
    if change.started:
        closed = await clock.last_closed(uow)
        if closed is not None and as_of <= closed and (state.evaluated_on is None or state.evaluated_on < closed):
            state, result = evaluate(state, closed, uow.config.outreach, at_close=False)
            state = await publish.evaluation(uow, state, result)
    return state


async def close_day(uow: UnitOfWork, as_of: date, event: Event | None = None) -> None:
    """`day.closed` D: evaluate every account whose snapshot wakes on or before D (an indexed select).

    A close of a date on or before the last closed one changes nothing.
    """
    if not await clock.close_day(uow, as_of):
        log.info("day.closed ignored: not after the last close", as_of=as_of.isoformat())
        return
    if event is not None:
        log_input(uow, event.envelope, CLOCK)
    woken = [s for s in await uow.waking(as_of) if s != CLOCK_STREAM]
    for start in range(0, len(woken), CHUNK):
        for loaded in await load_accounts(uow, woken[start : start + CHUNK]):
            state, result = evaluate(loaded.state, as_of, uow.config.outreach)
            state = await publish.evaluation(uow, state, result)
            state = figures.on_emitted(state, publish.evaluation_events(state.account_id, result))
            await save_account(uow, loaded, state)
    log.info("day closed", as_of=as_of.isoformat(), accounts=len(woken))
