"""Delinquency's handlers: `ledger.balance_changed` and `day.closed` (behaviour.md, Delinquency;
docs/decisions/0001: delinquent_since and as_of). `HANDLERS` at the end is the table the runtime
dispatches on and the subscription follows from (decision 0008).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from collections_delinquency.app.facts import dues_of, scheme_of
from collections_delinquency.app.metrics import close_metrics
from collections_delinquency.app.queries import bucket_counts
from collections_delinquency.app.repository import DelinquencyAccounts
from collections_delinquency.domain.account import Change, DelinquencyAccount, evaluate, wake_on
from collections_events import inbound, outbound
from collections_events.metrics import PlatformMetrics
from collections_events.runtime.handlers import HandlerTable
from collections_events.store import clock
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event

log = structlog.get_logger("collections.delinquency")
CHUNK = 5000
"""Accounts read, decided and written per round trip during a close."""


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    """Read the clock and the batch's accounts before its events are handled (one query each).

    The clock first: the lock order is always clock then accounts, so a close never deadlocks.
    """
    accounts = DelinquencyAccounts.of(uow)
    await accounts.prefetch(e.data.account_id for e in events if isinstance(e.data, outbound.BalanceChanged))


async def on_balance_changed(data: outbound.BalanceChanged, uow: UnitOfWork) -> None:
    """Keep the account's unpaid dues; after the first close, recompute at the last closed date and
    publish at once (as_of that date; a cure goes straight to the first bucket).
    """
    cfg = uow.config.delinquency
    accounts = DelinquencyAccounts.of(uow)
    closed = await accounts.last_closed()
    known = await accounts.get(data.account_id)
    account = known or DelinquencyAccount.new(scheme_of(cfg))
    account = DelinquencyAccount(dues_of(data), account.bucket, account.delinquent_since, account.charged_off)
    history: list[dict[str, object]] = []
    if closed is not None:
        account, changes = evaluate(account, closed, scheme_of(cfg), cfg.charge_off_dpd)
        _publish(uow, data.account_id, changes, history)
    await accounts.put(data.account_id, account)
    accounts.add_history(history)


async def on_day_closed(data: inbound.DayClosed, uow: UnitOfWork) -> None:
    """Close business date `as_of`: recompute only the accounts whose `wake_on` is on or before it.

    A date not after the last closed one is rejected (delinquency owns the clock topic). The clock
    is locked for update before any account (PostgreSQL), then the waking accounts are handled.
    """
    as_of = data.as_of
    accounts = DelinquencyAccounts.of(uow)
    await accounts.begin_close()
    previous = await clock.last_closed(uow, lock="update")
    if not await clock.close_day(uow, as_of, lock=True):
        assert previous is not None
        uow.reject(
            f"day.closed: business date {as_of.isoformat()} is not after the last closed date {previous.isoformat()}"
        )
        return
    read, published = await _close_waking(uow, accounts, as_of)
    close_metrics.record(read, published)
    if uow.metrics is not None:
        await _refresh_bucket_gauge(uow.session, uow.metrics)
    log.info("day closed", as_of=as_of.isoformat(), accounts_read=read, published=published)


async def _close_waking(uow: UnitOfWork, accounts: DelinquencyAccounts, as_of: date) -> tuple[int, int]:
    """The accounts whose `wake_on` is on or before `as_of`, in account_id order and in chunks (one
    SELECT, the domain, one executemany UPDATE each); returns how many were read and published."""
    cfg = uow.config.delinquency
    scheme = scheme_of(cfg)
    read = published = 0
    after = ""
    while chunk := await accounts.waking(as_of, after=after, limit=CHUNK):
        read += len(chunk)
        closed: list[tuple[str, DelinquencyAccount, date | None]] = []
        history: list[dict[str, object]] = []
        for account_id, held in chunk:
            account, changes = evaluate(held, as_of, scheme, cfg.charge_off_dpd)
            published += _publish(uow, account_id, changes, history)
            closed.append((account_id, account, wake_on(account, as_of, scheme, cfg.charge_off_dpd)))
        await accounts.write_closed(closed, history)
        after = chunk[-1][0]
    return read, published


_BUCKET_GAUGE_EVERY_S = 60.0
_bucket_gauge_at: list[float] = []


async def _refresh_bucket_gauge(session: AsyncSession, metrics: PlatformMetrics) -> None:
    """Accounts per bucket for the dashboards, at most once a minute (wall clock: this is telemetry,
    not a decision). One GROUP BY over every account, which a close must not pay every day."""
    now = time.monotonic()
    if _bucket_gauge_at and now - _bucket_gauge_at[0] < _BUCKET_GAUGE_EVERY_S:
        return
    counts = await bucket_counts(session)
    if counts:  # an empty book is asked again at the next close
        _bucket_gauge_at[:] = [now]
        metrics.set_accounts_in_bucket(counts)


_TYPES = {
    "bucket_changed": ("delinquency.bucket_changed", "bucket"),
    "dpd_changed": ("delinquency.dpd_changed", "dpd"),
    "charged_off": ("delinquency.charged_off", "chargeoff"),
}
"""A change's kind -> the event type published and the purpose its id derives from (`<purpose>:<account_id>`)."""


def _publish(uow: UnitOfWork, account_id: str, changes: tuple[Change, ...], history: list[dict[str, object]]) -> int:
    """Emit `changes` for the account (ids: the cause's id and `<kind>:<account_id>`); note bucket moves."""
    for change in changes:
        type_name, purpose = _TYPES[change.kind]
        uow.emit(type_name, _event_data(account_id, change), purpose=f"{purpose}:{account_id}")
        if change.kind == "bucket_changed":
            s = change.standing
            history.append({"account_id": account_id, "as_of": s.as_of, "bucket": s.bucket})
    return len(changes)


def _event_data(account_id: str, change: Change) -> BaseModel:
    """The contract data of the event a change publishes (contract.md, delinquency.*); money in minor units."""
    s = change.standing
    facts: dict[str, Any] = {
        "account_id": account_id,
        "as_of": s.as_of,
        "dpd": s.dpd,
        "past_due_minor": s.past_due_minor,
    }
    if change.kind == "bucket_changed":
        moved = {"from_bucket": change.from_bucket, "to_bucket": s.bucket}
        return outbound.BucketChanged(**facts, **moved, delinquent_since=s.delinquent_since)
    if change.kind == "dpd_changed":
        return outbound.DpdChanged(**facts, delinquent_since=s.delinquent_since)
    return outbound.ChargedOff(**facts)


HANDLERS: HandlerTable = {
    outbound.BalanceChanged: on_balance_changed,
    inbound.DayClosed: on_day_closed,
}
"""Every event delinquency consumes, by its contract model; the subscription follows from it (spec.py)."""
