"""Days past due, past-due amount and bucket of an account on a business date (behaviour.md, Delinquency).

Pure: the unpaid dues come from the last `ledger.balance_changed`, the date from `day.closed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class UnpaidDue:
    """What is unpaid of one due (minor units) and the business date it was due on."""

    due_date: date
    unpaid_minor: int


@dataclass(frozen=True)
class BucketScheme:
    """Bucket names and their first dpd, lowest first; the first starts at 0 and starts strictly increase.

    Raises ValueError when that does not hold (the config validates it first).
    """

    names: tuple[str, ...]
    starts: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.names or len(self.names) != len(self.starts) or self.starts[0] != 0:
            raise ValueError("a bucket scheme needs buckets, the first starting at dpd 0")
        if any(b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)):
            raise ValueError("bucket starts must strictly increase")

    @classmethod
    def of(cls, buckets: Sequence[tuple[str, int]]) -> BucketScheme:
        """A scheme from (name, from_dpd) pairs."""
        return cls(tuple(n for n, _ in buckets), tuple(s for _, s in buckets))

    @property
    def first(self) -> str:
        """The bucket of an account that is not past due (`current`, `M0`)."""
        return self.names[0]

    def bucket(self, dpd: int) -> str:
        """The last bucket whose first dpd is at most `dpd`."""
        name = self.names[0]
        for candidate, start in zip(self.names, self.starts, strict=True):
            if start > dpd:
                break
            name = candidate
        return name

    def next_start(self, dpd: int) -> int | None:
        """The first dpd of the bucket after the one `dpd` is in (None in the last bucket)."""
        return next((s for s in self.starts if s > dpd), None)


@dataclass(frozen=True)
class Standing:
    """An account's delinquency on business date `as_of`.

    `dpd` = as_of - `delinquent_since` in days (0 when not past due); `delinquent_since` = the oldest
    due date among unpaid dues due before `as_of` (None when there is none); `past_due_minor` = what
    is unpaid of those dues. A due paid on its due date is never late.
    """

    as_of: date
    dpd: int
    delinquent_since: date | None
    past_due_minor: int
    bucket: str


def standing_at(dues: Sequence[UnpaidDue], as_of: date, scheme: BucketScheme) -> Standing:
    """The account's standing at the close of `as_of` (behaviour.md, Delinquency: dpd)."""
    past = [d for d in dues if d.due_date < as_of and d.unpaid_minor > 0]
    if not past:
        return Standing(as_of, 0, None, 0, scheme.first)
    since = min(d.due_date for d in past)
    dpd = (as_of - since).days
    return Standing(as_of, dpd, since, sum(d.unpaid_minor for d in past), scheme.bucket(dpd))


def oldest_unpaid(dues: Sequence[UnpaidDue]) -> date | None:
    """The oldest due date among dues with something unpaid (None when all is paid)."""
    return min((d.due_date for d in dues if d.unpaid_minor > 0), default=None)
