"""Placing and recalling accounts inside a handler's unit of work (behaviour.md, Agencies).

Each decision is an event (`legal.account_placed`, `legal.placement_recalled`, on the legal topic the
agencies read) and a row of `legal_placements` for the API, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from sqlalchemy import Table

from collections_events import outbound
from collections_events.ids import derive_id
from collections_events.store.uow import UnitOfWork
from collections_legal.app.placement_repository import PlacementRepository, PlacementRow
from collections_legal.domain.account import LegalAccount, past_due
from collections_legal.domain.placement import (
    PlacementRules,
    Placing,
    Recall,
    checked,
    decide_placement,
    decide_recall,
    place,
    recall,
)


async def after_referral(
    uow: UnitOfWork, tables: Mapping[str, Table], account: LegalAccount, on: date, rules: PlacementRules
) -> LegalAccount:
    """At the close of `on`, after the referral rule: recall the open placement or place the account."""
    repo = PlacementRepository(uow.session, tables)
    decision = decide_recall(account, on)
    if decision is not None:
        await _recall(uow, repo, account, decision, on)
        account = recall(account, decision)
    placing = decide_placement(account, on, rules)
    if placing is not None:
        account = place(account, placing, await _place(uow, repo, account, placing, on))
    account = checked(account, on)
    if account.placement is None and account.placed_in_episode and past_due(account, on)[0] == 0:
        # dpd 0 at a close ends the episode: a later episode may be placed again.
        account = replace(account, placed_in_episode=False)
    return account


async def _recall(
    uow: UnitOfWork, repo: PlacementRepository, account: LegalAccount, decision: Recall, on: date
) -> None:
    """Publish `legal.placement_recalled` and mark the placement's row recalled."""
    placement = decision.placement
    envelope = uow.emit(
        "legal.placement_recalled",
        outbound.PlacementRecalled(
            placement_id=placement.placement_id,
            account_id=account.account_id,
            agency_id=placement.agency_id,
            as_of=on,
            reason=decision.reason,
            collected_minor=decision.collected_minor,
            commission_minor=decision.commission_minor,
        ),
        purpose=f"placement_recalled:{placement.placement_id}",
    )
    await repo.recall(
        placement.placement_id,
        on=on,
        reason=decision.reason,
        collected_minor=decision.collected_minor,
        commission_minor=decision.commission_minor,
        event_id=envelope.id,
    )


async def _place(uow: UnitOfWork, repo: PlacementRepository, account: LegalAccount, placing: Placing, on: date) -> str:
    """Publish `legal.account_placed` and insert the placement's row; returns the placement id."""
    assert uow.cause is not None
    placement_id = derive_id(uow.cause.id, f"placement:{account.account_id}")
    envelope = uow.emit(
        "legal.account_placed",
        outbound.AccountPlaced(
            placement_id=placement_id,
            account_id=account.account_id,
            agency_id=placing.agency_id,
            as_of=on,
            dpd=placing.dpd,
            past_due_minor=placing.past_due_minor,
            recall_on=placing.recall_on,
        ),
        purpose=f"account_placed:{account.account_id}",
    )
    await repo.insert(
        PlacementRow(
            placement_id=placement_id,
            account_id=account.account_id,
            agency_id=placing.agency_id,
            placed_on=on,
            dpd=placing.dpd,
            past_due_minor=placing.past_due_minor,
            recall_on=placing.recall_on,
            status="open",
            recalled_on=None,
            reason=None,
            collected_minor=None,
            commission_minor=None,
            placed_event_id=envelope.id,
            recalled_event_id=None,
        )
    )
    return placement_id
