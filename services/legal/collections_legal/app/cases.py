"""Opening, moving and closing cases inside a handler's unit of work (behaviour.md, Legal).

Every change of a case is a row of its history and an event: `legal.case_opened` at referral,
`legal.case_moved` for each step (closing included), and `legal.case_closed` when it closes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from collections_events import outbound
from collections_events.ids import derive_id
from collections_events.store.uow import UnitOfWork
from collections_legal.app.repository import CaseRow, LegalRepository
from collections_legal.domain.account import LegalAccount
from collections_legal.domain.lifecycle import AGENT_CLOSE_REASONS, CLOSED
from collections_legal.domain.referral import Referral

SYSTEM_ACTOR = "legal"
"""The actor of the service's own moves (referral and automatic closings)."""


async def open_case(uow: UnitOfWork, repo: LegalRepository, referral: Referral, account: LegalAccount) -> LegalAccount:
    """Open the case `referral` decided and publish `legal.case_opened`; returns the account with it."""
    assert uow.cause is not None
    case_id = derive_id(uow.cause.id, f"case:{referral.account_id}")
    envelope = uow.emit(
        "legal.case_opened",
        outbound.CaseOpened(
            case_id=case_id,
            account_id=referral.account_id,
            as_of=referral.as_of,
            dpd=referral.dpd,
            past_due_minor=referral.past_due_minor,
            contact_attempts=referral.contact_attempts,
        ),
        purpose=f"case_opened:{referral.account_id}",
    )
    await repo.insert_case(
        CaseRow(
            case_id=case_id,
            account_id=referral.account_id,
            state="referred",
            opened_on=referral.as_of,
            dpd=referral.dpd,
            past_due_minor=referral.past_due_minor,
            contact_attempts=referral.contact_attempts,
            closed_on=None,
            close_reason=None,
            opened_event_id=envelope.id,
            version=1,
        )
    )
    await repo.add_history(
        case_id,
        from_state=None,
        to_state="referred",
        actor=SYSTEM_ACTOR,
        note=f"referred at {referral.dpd} dpd after {referral.contact_attempts} contact attempts",
        as_of=referral.as_of,
        event_id=envelope.id,
        time=envelope.time,
    )
    return replace(account, open_case_id=case_id)


async def move_case(
    uow: UnitOfWork, repo: LegalRepository, case: CaseRow, data: outbound.CaseMoveRequested, as_of: date | None
) -> CaseRow:
    """Move an open case one step (already checked by the lifecycle) and publish `legal.case_moved`."""
    moved = await repo.change_case(case, state=data.to_state)
    envelope = uow.emit(
        "legal.case_moved",
        outbound.CaseMoved(
            case_id=case.case_id,
            account_id=case.account_id,
            from_state=case.state,
            to_state=data.to_state,
            actor=data.actor,
            note=data.note,
            court=data.court,
            docket_number=data.docket_number,
            amount_minor=data.amount_minor,
            on_date=data.on_date,
        ),
        purpose=f"case_moved:{case.case_id}",
    )
    await repo.add_history(
        case.case_id,
        from_state=case.state,
        to_state=data.to_state,
        actor=data.actor,
        note=data.note,
        court=data.court,
        docket_number=data.docket_number,
        amount_minor=data.amount_minor,
        on_date=data.on_date,
        as_of=as_of,
        event_id=envelope.id,
        time=envelope.time,
    )
    return moved


async def close_case(
    uow: UnitOfWork,
    repo: LegalRepository,
    case: CaseRow,
    account: LegalAccount,
    *,
    reason: str,
    as_of: date,
    actor: str = SYSTEM_ACTOR,
    note: str | None = None,
) -> LegalAccount:
    """Close an open case with `reason` at business date `as_of`; publish the move and the closing.

    Returns the account without its open case. After an agent's closing (paid, settled, withdrawn)
    of an account still owing, it is not referred again until it is cured (README, decisions).
    """
    await repo.change_case(case, state=CLOSED, closed_on=as_of, close_reason=reason)
    note = note if note is not None else f"closed: {reason}"
    moved = uow.emit(
        "legal.case_moved",
        outbound.CaseMoved(
            case_id=case.case_id,
            account_id=case.account_id,
            from_state=case.state,
            to_state=CLOSED,
            actor=actor,
            note=note,
        ),
        purpose=f"case_moved:{case.case_id}",
    )
    uow.emit(
        "legal.case_closed",
        outbound.CaseClosed(case_id=case.case_id, account_id=case.account_id, as_of=as_of, reason=reason),
        purpose=f"case_closed:{case.case_id}",
    )
    await repo.add_history(
        case.case_id,
        from_state=case.state,
        to_state=CLOSED,
        actor=actor,
        note=note,
        reason=reason,
        as_of=as_of,
        event_id=moved.id,
        time=moved.time,
    )
    hold = reason in AGENT_CLOSE_REASONS and bool(account.unpaid_dues)
    if account.open_case_id != case.case_id:
        return account
    return replace(account, open_case_id=None, hold_until_cure=hold or account.hold_until_cure)
