"""Legal's handler for every event it consumes and every command of its API (behaviour.md, Legal).

- `day.closed` D (a close at or before the last one is ignored): refer each account whose wake
  date has come and that meets the rule at D, in account order.
- Upstream facts (balance, flags, delinquency, promises, arrangements, contact records) update the
  account's state and wake date; a cure closes its open case (`cured`, as of the event's `as_of`),
  a `bankruptcy` or `deceased` flag closes it with that reason as of the last closed date.
- Placement (behaviour.md, Agencies): at the same close, after the referral rule, recall an open
  placement or place the account; payments (`payment.received`/`payment.reversed`) are kept while
  agencies are configured, for what an agency collected.
- Agents' commands (`legal.case_move_requested`, `legal.case_close_requested`) move or close a case
  through the lifecycle; a refused one is answered with `system.event_rejected` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import structlog
from pydantic import BaseModel
from sqlalchemy import Table

from collections_events import inbound, outbound
from collections_events.envelope import Envelope
from collections_events.runtime.handlers import HandlerTable
from collections_events.store import clock
from collections_events.store.uow import UnitOfWork
from collections_legal.app.cases import close_case, move_case, open_case
from collections_legal.app.facts import fold_fact, is_cure
from collections_legal.app.inputs import HANDLED
from collections_legal.app.placements import after_referral
from collections_legal.app.repository import LegalRepository
from collections_legal.app.state import AccountStore
from collections_legal.app.tables import TABLES
from collections_legal.domain.account import Payment, apply_payment, apply_request, apply_reversal, forget_payments
from collections_legal.domain.lifecycle import check_close, check_move
from collections_legal.domain.referral import Referral, decide_referral

AUTO_CLOSE_FLAGS = frozenset({"bankruptcy", "deceased"})
log = structlog.get_logger("collections.legal")


def _cause(uow: UnitOfWork) -> Envelope:
    """The envelope being handled (the runtime always sets it for a handler)."""
    assert uow.cause is not None
    return uow.cause


def _repo(uow: UnitOfWork) -> LegalRepository:
    return LegalRepository(uow.session, TABLES)


async def _on_day_closed(data: inbound.DayClosed, uow: UnitOfWork) -> None:
    await _close_day(uow, _repo(uow), TABLES, data.as_of)


async def _on_fact(data: BaseModel, uow: UnitOfWork) -> None:
    await _fact(_cause(uow), data, uow, _repo(uow))


async def _on_move(data: outbound.CaseMoveRequested, uow: UnitOfWork) -> None:
    await _move(_cause(uow), uow, _repo(uow), data)


async def _on_close(data: outbound.CaseCloseRequested, uow: UnitOfWork) -> None:
    await _close(_cause(uow), uow, _repo(uow), data)


async def _close_day(uow: UnitOfWork, repo: LegalRepository, tables: Mapping[str, Table], on: date) -> None:
    if not await clock.close_day(uow, on):  # a close at or before the last one changes nothing
        return
    HANDLED.log(uow, _cause(uow), clock.CLOCK_STREAM)
    store = AccountStore(uow)
    woken = await store.waking(on)
    opened = 0
    for account_id in woken:
        account, version = await store.load(account_id)
        decision = decide_referral(account, on, store.rules)
        if isinstance(decision, Referral):
            account = await open_case(uow, repo, decision, account)
            opened += 1
        account = await after_referral(uow, tables, account, on, store.placement_rules)
        account = forget_payments(account, on)
        await store.save(account, version)
    log.info("day closed", as_of=on.isoformat(), accounts_read=len(woken), cases_opened=opened)


async def _payment(data: inbound.PaymentReceived | inbound.PaymentReversed, uow: UnitOfWork) -> None:
    """Keep a payment (or its reversal) for what an agency collects; nothing while placement is off."""
    store = AccountStore(uow)
    if not store.placement_rules.agencies:
        return
    HANDLED.log(uow, _cause(uow), data.account_id)
    account, version = await store.load(data.account_id)
    before = account
    if isinstance(data, inbound.PaymentReceived):
        account = apply_payment(account, Payment(data.payment_id, data.amount_minor, data.received_on))
    else:
        account = apply_reversal(account, data.payment_id)
    closed = await clock.last_closed(uow)
    if closed is not None:
        account = forget_payments(account, closed)
    if account != before:
        await store.save(account, version)


async def _fact(cause: Envelope, data: BaseModel, uow: UnitOfWork, repo: LegalRepository) -> None:
    account_id: str | None = getattr(data, "account_id", None)
    if account_id is None:
        return
    HANDLED.log(uow, cause, account_id)
    store = AccountStore(uow)
    account, version = await store.load(account_id)
    before = account
    account = fold_fact(account, cause.type, data, cause.time)

    if isinstance(data, outbound.ContactRecorded):
        kept = await repo.add_trail_record(cause.data, data.as_of)
        if kept and data.kind == "requested" and data.as_of is not None:
            account = apply_request(account, data.as_of)

    case = await repo.case(account.open_case_id) if account.open_case_id else None
    if case is not None and case.state != "closed":
        if is_cure(data) and isinstance(data, outbound.BucketChanged | outbound.DpdChanged):
            if data.as_of >= case.opened_on:
                account = await close_case(uow, repo, case, account, reason="cured", as_of=data.as_of)
        elif (
            isinstance(data, inbound.AccountFlagChanged)
            and cause.type == "account.flag_set"
            and data.flag in AUTO_CLOSE_FLAGS
        ):
            as_of = await clock.last_closed(uow) or case.opened_on
            account = await close_case(uow, repo, case, account, reason=data.flag, as_of=as_of)
    if account != before or version == 0:
        await store.save(account, version)


async def _move(cause: Envelope, uow: UnitOfWork, repo: LegalRepository, data: outbound.CaseMoveRequested) -> None:
    await _record_command(cause, uow)
    case = await repo.case(data.case_id)
    if case is None or case.account_id != data.account_id:
        uow.reject(f"case {data.case_id} is not a case of account {data.account_id}")
        return
    refused = check_move(case.state, data.to_state, data.model_dump())
    if refused is not None:
        uow.reject(f"{refused.reason}; allowed moves: {', '.join(refused.allowed) or 'none'}")
        return
    await move_case(uow, repo, case, data, await clock.last_closed(uow))


async def _close(cause: Envelope, uow: UnitOfWork, repo: LegalRepository, data: outbound.CaseCloseRequested) -> None:
    await _record_command(cause, uow)
    case = await repo.case(data.case_id)
    if case is None or case.account_id != data.account_id:
        uow.reject(f"case {data.case_id} is not a case of account {data.account_id}")
        return
    refused = check_close(case.state, data.reason)
    if refused is not None:
        uow.reject(f"{refused.reason}; allowed moves: {', '.join(refused.allowed) or 'none'}")
        return
    store = AccountStore(uow)
    account, version = await store.load(case.account_id)
    as_of = await clock.last_closed(uow) or case.opened_on
    account = await close_case(
        uow, repo, case, account, reason=data.reason, as_of=as_of, actor=data.actor, note=data.note
    )
    await store.save(account, version)


async def _record_command(cause: Envelope, uow: UnitOfWork) -> None:
    """Keep the agent's command in the account's stream of legal's log (who asked what, when)."""
    stream = cause.subject
    HANDLED.log(uow, cause, stream)
    await uow.append(stream, await uow.stream_version(stream), [cause])


HANDLERS: HandlerTable = {
    inbound.DayClosed: _on_day_closed,
    inbound.PaymentReceived: _payment,
    inbound.PaymentReversed: _payment,
    outbound.BalanceChanged: _on_fact,
    outbound.BucketChanged: _on_fact,
    outbound.DpdChanged: _on_fact,
    inbound.AccountFlagChanged: _on_fact,
    outbound.ContactRecorded: _on_fact,
    outbound.PromiseEvent: _on_fact,
    outbound.ArrangementMade: _on_fact,
    outbound.ArrangementCompleted: _on_fact,
    outbound.ArrangementBroken: _on_fact,
    outbound.ArrangementDeclined: _on_fact,
}
"""Every event legal consumes, by its contract model; the subscription follows from it (spec.py)."""

COMMANDS: HandlerTable = {
    outbound.CaseMoveRequested: _on_move,
    outbound.CaseCloseRequested: _on_close,
}
"""Agents' commands, through the API only (never from a topic)."""
