"""Delinquency's handler: `ledger.balance_changed` and `day.closed` (behaviour.md, Delinquency;
docs/decisions/0001: delinquent_since and as_of).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from collections_delinquency.app import state
from collections_delinquency.app.accounts import Accounts
from collections_delinquency.app.metrics import close_metrics
from collections_delinquency.app.queries import bucket_counts
from collections_delinquency.domain.account import Change, DelinquencyAccount, evaluate, wake_on
from collections_delinquency.domain.standing import BucketScheme, UnpaidDue
from collections_events import inbound, outbound
from collections_events.config import DelinquencyConfig
from collections_events.metrics import PlatformMetrics
from collections_events.store.uow import UnitOfWork
from collections_events.validation import Event

log = structlog.get_logger("collections.delinquency")
CHUNK = 5000
"""Accounts read, decided and written per round trip during a close."""


def scheme_of(config: DelinquencyConfig) -> BucketScheme:
    """The bucket scheme in force (`delinquency.buckets`: a preset or a custom list)."""
    return BucketScheme.of([(b.name, b.from_dpd) for b in config.bucket_list])


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    """Read the clock and the batch's accounts before its events are handled (one query each).

    The clock first: the lock order is always clock then accounts, so a close never deadlocks.
    """
    accounts = Accounts.of(uow)
    await accounts.last_closed()
    await accounts.prefetch(e.data.account_id for e in events if isinstance(e.data, outbound.BalanceChanged))


async def handle(event: Event, uow: UnitOfWork) -> None:
    """Dispatch on the event's type; other types are ignored."""
    if isinstance(event.data, outbound.BalanceChanged):
        await on_balance_changed(event.data, uow)
    elif isinstance(event.data, inbound.DayClosed):
        await on_day_closed(event.data.as_of, uow)


async def on_balance_changed(data: outbound.BalanceChanged, uow: UnitOfWork) -> None:
    """Keep the account's unpaid dues; after the first close, recompute at the last closed date and
    publish at once (as_of that date; a cure goes straight to the first bucket).
    """
    cfg = uow.config.delinquency
    scheme = scheme_of(cfg)
    accounts = Accounts.of(uow)
    closed = await accounts.last_closed()
    known = await accounts.load(data.account_id)
    account = known or DelinquencyAccount.new(scheme)
    account = DelinquencyAccount(
        tuple(UnpaidDue(d.due_date, d.unpaid_minor) for d in data.unpaid_dues),
        account.bucket,
        account.delinquent_since,
        account.charged_off,
    )
    history: list[dict[str, object]] = []
    if closed is not None:
        account, changes = evaluate(account, closed, scheme, cfg.charge_off_dpd)
        _publish(uow, data.account_id, changes, history)
    accounts.put(data.account_id, account, wake_on(account, closed, scheme, cfg.charge_off_dpd), closed)
    accounts.add_history(history)


async def on_day_closed(as_of: date, uow: UnitOfWork) -> None:
    """Close business date `as_of`: recompute only the accounts whose `wake_on` is on or before it.

    A date not after the last closed one is rejected (delinquency owns the clock topic). Accounts are
    handled in account_id order, in chunks: one SELECT, the domain, one executemany UPDATE each.
    """
    cfg = uow.config.delinquency
    scheme = scheme_of(cfg)
    session = uow.session
    accounts = Accounts.of(uow)
    await accounts.before_close()
    closed = await state.last_closed(session, for_update=True)
    if closed is not None and as_of <= closed:
        uow.reject(
            f"day.closed: business date {as_of.isoformat()} is not after the last closed date {closed.isoformat()}"
        )
        return
    read = published = 0
    after = ""
    while True:
        rows = await state.waking_accounts(session, as_of, after=after, limit=CHUNK)
        if not rows:
            break
        read += len(rows)
        updates = []
        history: list[dict[str, object]] = []
        for row in rows:
            account, changes = evaluate(state.account_from(row), as_of, scheme, cfg.charge_off_dpd)
            published += _publish(uow, row[0], changes, history)
            values = state.account_values(account, wake_on(account, as_of, scheme, cfg.charge_off_dpd))
            del values["dues"]
            updates.append({"b_account_id": row[0], **values})
        await state.update_accounts(session, updates, with_dues=False)
        await state.add_history(session, history)
        after = rows[-1][0]
    await state.set_last_closed(session, as_of)
    accounts.closed(as_of)
    close_metrics.record(read, published)
    if uow.metrics is not None:
        await _refresh_bucket_gauge(session, uow.metrics)
    log.info("day closed", as_of=as_of.isoformat(), accounts_read=read, published=published)


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


def _publish(uow: UnitOfWork, account_id: str, changes: tuple[Change, ...], history: list[dict[str, object]]) -> int:
    """Emit `changes` for the account (ids: the cause's id and `<kind>:<account_id>`); note bucket moves."""
    for change in changes:
        s = change.standing
        if change.kind == "bucket_changed":
            uow.emit(
                "delinquency.bucket_changed",
                outbound.BucketChanged(
                    account_id=account_id,
                    as_of=s.as_of,
                    dpd=s.dpd,
                    delinquent_since=s.delinquent_since,
                    from_bucket=change.from_bucket,
                    to_bucket=s.bucket,
                    past_due_minor=s.past_due_minor,
                ),
                purpose=f"bucket:{account_id}",
            )
            history.append({"account_id": account_id, "as_of": s.as_of, "bucket": s.bucket})
        elif change.kind == "dpd_changed":
            uow.emit(
                "delinquency.dpd_changed",
                outbound.DpdChanged(
                    account_id=account_id,
                    as_of=s.as_of,
                    dpd=s.dpd,
                    delinquent_since=s.delinquent_since,
                    past_due_minor=s.past_due_minor,
                ),
                purpose=f"dpd:{account_id}",
            )
        else:
            uow.emit(
                "delinquency.charged_off",
                outbound.ChargedOff(account_id=account_id, as_of=s.as_of, dpd=s.dpd, past_due_minor=s.past_due_minor),
                purpose=f"chargeoff:{account_id}",
            )
    return len(changes)
