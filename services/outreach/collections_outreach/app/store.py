"""Loading and saving an account's state (its snapshot) inside one unit of work (the clock is
collections_events.store.clock, the shared `$clock` snapshot).

The snapshot's `wake_on` is the first close that needs the account (domain.evaluate.wake_on), so a
close selects only those accounts through the index. The `treatment` index follows the episode.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, update

from collections_events.store.statements import execute
from collections_events.store.uow import UnitOfWork
from collections_outreach.app.tables import TREATMENT
from collections_outreach.domain.evaluate import wake_on
from collections_outreach.domain.state import AccountState, from_json, to_json

_START_TREATMENT = insert(TREATMENT)
_END_TREATMENT = delete(TREATMENT).where(TREATMENT.c.account_id == bindparam("b_account_id"))
_MOVE_TREATMENT = (
    update(TREATMENT)
    .where(TREATMENT.c.account_id == bindparam("b_account_id"))
    .values(delinquent_since=bindparam("delinquent_since"))
)


@dataclass
class Loaded:
    """An account's state as loaded, its snapshot version, and the state as it was."""

    state: AccountState
    version: int
    before: AccountState


async def load_account(uow: UnitOfWork, account_id: str) -> Loaded:
    """The account's state (a fresh one when outreach has heard nothing of it yet)."""
    snapshot = await uow.load(account_id)
    if snapshot is None:
        fresh = AccountState(account_id=account_id)
        return Loaded(fresh, 0, fresh)
    state = from_json(snapshot.state)
    return Loaded(state, snapshot.version, state)


async def load_accounts(uow: UnitOfWork, account_ids: list[str]) -> list[Loaded]:
    """The states of `account_ids` (which all have snapshots) in one query, in the given order."""
    found = await uow.load_many(account_ids)
    loaded = []
    for account_id in account_ids:
        if (snapshot := found.get(account_id)) is not None:
            state = from_json(snapshot.state)
            loaded.append(Loaded(state, snapshot.version, state))
    return loaded


async def save_account(uow: UnitOfWork, loaded: Loaded, state: AccountState) -> None:
    """Store `state` (when it changed) with its wake date; keep the treatment index in step."""
    if state == loaded.before and loaded.version:
        return
    await uow.save(
        state.account_id,
        to_json(state),
        expected_version=loaded.version,
        wake_on=wake_on(state, uow.config.outreach.arrangements.grace_days),
    )
    old, new = loaded.before.delinquent_since, state.delinquent_since
    if old == new:
        return
    if old is None and new is not None:
        await execute(uow.session, _START_TREATMENT, {"account_id": state.account_id, "delinquent_since": new})
    elif new is None:
        await execute(uow.session, _END_TREATMENT, {"b_account_id": state.account_id})
    else:
        await execute(uow.session, _MOVE_TREATMENT, {"b_account_id": state.account_id, "delinquent_since": new})


async def end_treatment(uow: UnitOfWork, account_id: str) -> None:
    """Take a charged-off account off the treatment list (`/accounts/in-treatment`); a new episode
    after a cure lists it again."""
    await execute(uow.session, _END_TREATMENT, {"b_account_id": account_id})
