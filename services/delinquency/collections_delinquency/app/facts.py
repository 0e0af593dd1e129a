"""Contract models and configuration -> delinquency's domain values (the domain never sees a Mapping)."""

from __future__ import annotations

from collections_delinquency.domain.standing import BucketScheme, UnpaidDue
from collections_events import outbound
from collections_events.config import DelinquencyConfig


def scheme_of(config: DelinquencyConfig) -> BucketScheme:
    """The bucket scheme in force (`delinquency.buckets`: a preset or a custom list)."""
    return BucketScheme.of([(b.name, b.from_dpd) for b in config.bucket_list])


def dues_of(data: outbound.BalanceChanged) -> tuple[UnpaidDue, ...]:
    """The unpaid dues a `ledger.balance_changed` reports (due date, unpaid minor units), oldest first."""
    return tuple(UnpaidDue(d.due_date, d.unpaid_minor) for d in data.unpaid_dues)
