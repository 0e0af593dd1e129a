"""Outreach's read models for the API: functions of a read session returning plain values.

They read outreach's own tables only (the account snapshots, the clock, the treatment index, the
trail, the conduct breaches, the handled inputs), never write, and never see a request. An account
is known to outreach once it has handled an event of it (its snapshot exists); a function about one
account returns None for an unknown one and the route answers 404 (`unknown("account", id)`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.config import OutreachConfig
from collections_events.store.clock import CLOCK_STREAM
from collections_outreach.app.tables import TABLES, TREATMENT
from collections_outreach.domain.arrangements import installment_statuses
from collections_outreach.domain.experiments import arm_of, arm_strategy
from collections_outreach.domain.state import AccountState, from_json
from collections_outreach.domain.steps import next_step

SNAPSHOTS = TABLES["snapshots"]


def _is_account(stream_id: str) -> bool:
    """Account ids never begin with `$` (the clock's stream is `$clock`)."""
    return not stream_id.startswith("$")


async def _snapshot(session: AsyncSession, stream_id: str) -> dict[str, Any] | None:
    raw = await session.scalar(select(SNAPSHOTS.c.state).where(SNAPSHOTS.c.stream_id == stream_id))
    found: dict[str, Any] | None = json.loads(raw) if raw else None
    return found


async def last_closed(session: AsyncSession) -> date | None:
    """The last closed business date outreach applied (the `$clock` snapshot), or None before any."""
    raw = await _snapshot(session, CLOCK_STREAM)
    return date.fromisoformat(raw["last_closed"]) if raw and raw.get("last_closed") else None


async def account_state(session: AsyncSession, account_id: str) -> AccountState | None:
    """The account's state as outreach keeps it, or None when outreach never handled an event of it."""
    raw = await _snapshot(session, account_id) if _is_account(account_id) else None
    return None if raw is None else from_json(raw)


async def is_known(session: AsyncSession, account_id: str) -> bool:
    """Whether outreach has handled an event of `account_id` (one indexed read of its snapshot key)."""
    if not _is_account(account_id):
        return False
    found = await session.scalar(select(SNAPSHOTS.c.stream_id).where(SNAPSHOTS.c.stream_id == account_id))
    return found is not None


async def in_treatment(session: AsyncSession, config: OutreachConfig, limit: int, offset: int) -> dict[str, Any]:
    """One page of the accounts in a delinquency episode (oldest first), with dpd at the last close
    and their next step; `total` counts every account in treatment."""
    closed = await last_closed(session)
    total = int(await session.scalar(select(func.count()).select_from(TREATMENT)) or 0)
    rows = (
        await session.execute(
            select(TREATMENT.c.account_id, TREATMENT.c.delinquent_since)
            .order_by(TREATMENT.c.delinquent_since, TREATMENT.c.account_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    accounts = []
    for row in rows:
        state = await account_state(session, row.account_id) or AccountState(row.account_id)
        since: date = row.delinquent_since
        strategy = arm_strategy(arm_of(row.account_id, config), config)
        upcoming = next_step(strategy, since, closed or since, dict(state.fired))
        accounts.append(
            {
                "account_id": row.account_id,
                "delinquent_since": since.isoformat(),
                "dpd": (closed - since).days if closed else 0,
                "as_of": closed.isoformat() if closed else None,
                "next_step": None
                if upcoming is None
                else {"step": upcoming[0].id, "channel": upcoming[0].channel, "at_close_of": upcoming[1].isoformat()},
            }
        )
    as_of = closed.isoformat() if closed else None
    return {"as_of": as_of, "total": total, "limit": limit, "offset": offset, "accounts": accounts}


def account_view(state: AccountState, closed: date | None) -> dict[str, Any]:
    """The account as outreach sees it: flags, consents, contacts (for agents), episode, promises."""
    p = state.profile
    contacts = None
    if p is not None:
        contacts = {
            "phones": [{"number": n, "kind": k} for n, k in p.phones],
            "emails": list(p.emails),
            "postal_address": p.postal_address,
        }
    return {
        "account_id": state.account_id,
        "known": p is not None,
        "timezone": p.timezone if p else None,
        "customer_id": p.customer_id if p else None,
        "flags": sorted(state.flags),
        "consents": dict(p.consents) if p else {},
        "contacts": contacts,
        "delinquent_since": state.delinquent_since.isoformat() if state.delinquent_since else None,
        "dpd": state.dpd(closed) if closed and state.in_episode else 0,
        "legal_hold": bool(state.open_cases),
        "promises": [
            {
                "promise_id": x.promise_id,
                "amount_minor": x.amount_minor,
                "promised_on": x.promised_on.isoformat(),
                "status": x.status,
                "counted_minor": x.counted_minor,
            }
            for x in state.promises
        ],
        "active_arrangement": state.active_arrangement.arrangement_id if state.active_arrangement else None,
    }


def arrangements_view(state: AccountState, closed: date | None, grace_days: int) -> dict[str, Any]:
    """Every arrangement of the account with each installment `met`, `due` or `missed` (amounts in
    minor units; dates are business dates)."""
    out = []
    for a in state.arrangements:
        statuses = installment_statuses(a, closed, grace_days)
        out.append(
            {
                "arrangement_id": a.arrangement_id,
                "kind": a.kind,
                "made_on": a.made_on.isoformat(),
                "status": a.status,
                "total_minor": a.total_minor,
                "paid_minor": a.counted_minor,
                "broken_as_of": a.ended_as_of.isoformat() if a.ended_as_of else None,
                "installments": [
                    {"number": n, "due_on": d.isoformat(), "amount_minor": m, "status": s}
                    for n, ((d, m), s) in enumerate(zip(a.installments, statuses, strict=True), start=1)
                ],
            }
        )
    return {"account_id": state.account_id, "arrangements": out}
