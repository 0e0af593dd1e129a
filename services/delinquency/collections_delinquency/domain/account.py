"""An account's published delinquency and what a close or a balance change makes it publish.

Rules: behaviour.md (Delinquency) and docs/decisions/0001: `bucket_changed` when the bucket differs
from the last published one; else `dpd_changed` when the oldest past-due date moved; then
`charged_off` once per delinquency episode (an episode ends when nothing is past due any more).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from collections_delinquency.domain.standing import (
    BucketScheme,
    Standing,
    UnpaidDue,
    oldest_unpaid,
    standing_at,
)

ChangeKind = Literal["bucket_changed", "dpd_changed", "charged_off"]


@dataclass(frozen=True)
class DelinquencyAccount:
    """Per account: the unpaid dues of the last `ledger.balance_changed` and what was last published.

    `bucket` and `delinquent_since` are the last published values (the scheme's first bucket and
    None before anything was published); `charged_off` says whether the current episode was charged
    off already.
    """

    dues: tuple[UnpaidDue, ...]
    bucket: str
    delinquent_since: date | None = None
    charged_off: bool = False

    @classmethod
    def new(cls, scheme: BucketScheme) -> DelinquencyAccount:
        """An account never seen: nothing due, in the first bucket."""
        return cls((), scheme.first)


@dataclass(frozen=True)
class Change:
    """One event to publish about an account: its kind, the standing it reports, the bucket it left."""

    kind: ChangeKind
    standing: Standing
    from_bucket: str


def evaluate(
    account: DelinquencyAccount, as_of: date, scheme: BucketScheme, charge_off_dpd: int
) -> tuple[DelinquencyAccount, tuple[Change, ...]]:
    """Recompute the account at the close of `as_of`; returns the new state and what to publish, in order."""
    now = standing_at(account.dues, as_of, scheme)
    changes: list[Change] = []
    if now.bucket != account.bucket:
        changes.append(Change("bucket_changed", now, account.bucket))
    elif now.delinquent_since != account.delinquent_since:
        changes.append(Change("dpd_changed", now, account.bucket))
    charged = account.charged_off and now.delinquent_since is not None
    if now.dpd >= charge_off_dpd and not charged:
        changes.append(Change("charged_off", now, account.bucket))
        charged = True
    after = replace(account, bucket=now.bucket, delinquent_since=now.delinquent_since, charged_off=charged)
    return after, tuple(changes)


def wake_on(
    account: DelinquencyAccount, last_closed: date | None, scheme: BucketScheme, charge_off_dpd: int
) -> date | None:
    """The first business date after `last_closed` whose close could publish something for the account
    if nothing else happens; None when nothing can change.

    With `since` the oldest unpaid due date, the candidates are `since + 1` (it becomes past due),
    `since + from_dpd` of every later bucket, and `since + charge_off_dpd` unless the episode is
    charged off. Assumes the account was evaluated at `last_closed` (when there is one).
    """
    since = oldest_unpaid(account.dues)
    if since is None:
        return None
    offsets = {1, *(s for s in scheme.starts if s >= 1)}
    if not account.charged_off:
        offsets.add(charge_off_dpd)
    dates = sorted(since + timedelta(days=n) for n in offsets)
    return next((d for d in dates if last_closed is None or d > last_closed), None)
