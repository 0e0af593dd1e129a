"""The ledger's HTTP API (issue 3): an account's money and its event history.

Reads the ledger's own event log only; `/health` and `/ready` come from `service_app`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.api import get_runtime, get_session, service_app
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.store.uow import StoredEvent
from collections_ledger.domain.account import Payment, balance
from collections_ledger.domain.fold import fold


class UnpaidDueOut(BaseModel):
    """One unpaid due (beyond the tolerance), in minor units."""

    due_id: str
    due_date: date
    unpaid_minor: int


class PaymentOut(BaseModel):
    """A payment as received, in minor units."""

    payment_id: str
    amount_minor: int
    received_on: date


class WaiverOut(BaseModel):
    """What a completed settlement forgave, in minor units."""

    arrangement_id: str
    amount_minor: int


class AccountOut(BaseModel):
    """An account's money as the ledger folds it: unpaid dues oldest first, credit, payments, waivers."""

    account_id: str
    currency: str | None
    opened_on: date | None
    unpaid_dues: list[UnpaidDueOut]
    credit_minor: int
    payments: list[PaymentOut]
    reversed_payments: list[PaymentOut]
    waivers: list[WaiverOut]


class StoredEventOut(BaseModel):
    """One event of the account's stream, in stream order."""

    version: int
    event_id: str
    type: str
    time: str
    data: dict[str, Any]


def create_api(runtime: ServiceRuntime) -> FastAPI:
    """The ledger's FastAPI app (OpenAPI at /docs): accounts and their streams; 404 for an unknown account."""
    app = service_app(runtime, title="Collections ledger", description="Dues, payments, reversals, waivers.")

    async def stream(account_id: str, session: AsyncSession, rt: ServiceRuntime) -> list[StoredEvent]:
        events = await rt.unit_of_work(session).read_stream(account_id)
        if not events:
            raise HTTPException(status_code=404, detail=f"unknown account {account_id}")
        return events

    @app.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
    async def account(
        account_id: str,
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> AccountOut:
        """The account's unpaid dues, credit, payments (active and reversed) and waivers."""
        folded = fold((e.type, e.data) for e in await stream(account_id, session, rt))
        now = balance(folded, rt.config.ledger.tolerance_minor)
        return AccountOut(
            account_id=account_id,
            currency=folded.opening.currency if folded.opening else None,
            opened_on=folded.opening.opened_on if folded.opening else None,
            unpaid_dues=[UnpaidDueOut(due_id=d, due_date=on, unpaid_minor=a) for d, on, a in now.unpaid_dues],
            credit_minor=now.credit_minor,
            payments=[_payment(p) for p in folded.payments],
            reversed_payments=[_payment(p) for p in folded.reversed_payments],
            waivers=[WaiverOut(arrangement_id=w.arrangement_id, amount_minor=w.amount_minor) for w in folded.waivers],
        )

    @app.get("/accounts/{account_id}/events", response_model=list[StoredEventOut], tags=["accounts"])
    async def events(
        account_id: str,
        session: AsyncSession = Depends(get_session),
        rt: ServiceRuntime = Depends(get_runtime),
    ) -> list[StoredEventOut]:
        """The account's stream: what changed it and what the ledger published about it, oldest first."""
        return [
            StoredEventOut(version=e.version, event_id=e.event_id, type=e.type, time=e.time, data=e.data)
            for e in await stream(account_id, session, rt)
        ]

    return app


def _payment(payment: Payment) -> PaymentOut:
    return PaymentOut(payment_id=payment.payment_id, amount_minor=payment.amount_minor, received_on=payment.received_on)
