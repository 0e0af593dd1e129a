"""Legal's per-account state and its clock, kept as snapshots (docs/decisions/0002-store-layout.md).

An account's snapshot `account:<id>` holds its LegalAccount and, as `wake_on`, the first close at
which it may be referred (`referral.wake_on`); a close reads only the snapshots whose date has come.
The last closed business date is the platform's clock (collections_events.store.clock, `$clock`).
"""

from __future__ import annotations

from datetime import date

from collections_events.config import PlacementConfig
from collections_events.store.uow import UnitOfWork
from collections_legal.domain.account import LegalAccount
from collections_legal.domain.codec import from_state, to_state
from collections_legal.domain.placement import AgencyTerms, PlacementRules, placement_wake_on
from collections_legal.domain.referral import ReferralRules, wake_on

ACCOUNT_PREFIX = "account:"


def account_stream(account_id: str) -> str:
    """The snapshot stream of an account."""
    return ACCOUNT_PREFIX + account_id


class AccountStore:
    """Load and save accounts' snapshots in a unit of work, with their wake dates."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        legal = uow.config.legal
        self.rules = ReferralRules(legal.referral_dpd, legal.min_contact_attempts, legal.min_past_due_minor)
        self.placement_rules = placement_rules(legal.placement)

    async def load(self, account_id: str) -> tuple[LegalAccount, int]:
        """The account and its snapshot version (0 and an empty account when first seen)."""
        snapshot = await self.uow.load(account_stream(account_id))
        if snapshot is None:
            return LegalAccount(account_id), 0
        return from_state(snapshot.state), snapshot.version

    async def save(self, account: LegalAccount, version: int) -> int:
        """Store the account with its wake date. Raises ConcurrencyError on a lost race."""
        return await self.uow.save(
            account_stream(account.account_id),
            to_state(account),
            expected_version=version,
            wake_on=account_wake_on(account, self.rules, self.placement_rules),
        )

    async def waking(self, on: date) -> list[str]:
        """The accounts whose wake date is on or before `on`, by account id."""
        streams = await self.uow.waking(on)
        return [s.removeprefix(ACCOUNT_PREFIX) for s in streams if s.startswith(ACCOUNT_PREFIX)]


def placement_rules(config: PlacementConfig) -> PlacementRules:
    """The domain's rules from `legal.placement`."""
    agencies = tuple(AgencyTerms(a.id, a.share_pct, a.commission_pct) for a in config.agencies)
    return PlacementRules(agencies, config.from_dpd, config.days)


def account_wake_on(account: LegalAccount, rules: ReferralRules, placing: PlacementRules) -> date | None:
    """The first close that needs the account: the earlier of the referral's and the placement's."""
    dates = [d for d in (wake_on(account, rules), placement_wake_on(account, placing)) if d is not None]
    return min(dates) if dates else None
