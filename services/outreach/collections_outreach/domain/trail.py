"""Records of the contact trail, hash-chained (contract.md, outreach.contact_recorded).

The chain itself is `collections_events.audit_chain` (shared with legal, which verifies it):
`hash` = SHA-256 over `prev_hash` and the record's canonical JSON; sequence 1, 2, ... per account;
the first `prev_hash` is 64 zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collections_events.audit_chain import GENESIS_HASH, record_hash


@dataclass(frozen=True)
class ChainHead:
    """The newest record of an account's trail: its sequence (0 when empty) and hash."""

    sequence: int = 0
    hash: str = GENESIS_HASH


def make_record(
    head: ChainHead,
    *,
    record_id: str,
    account_id: str,
    attempt_id: str | None,
    kind: str,
    channel: str,
    outcome: str | None,
    occurred_at: str,
    as_of: str | None,
    agency_id: str | None = None,
) -> dict[str, Any]:
    """The next record after `head` as JSON data (fields of `outreach.contact_recorded`), hash included.

    `occurred_at` is an RFC 3339 instant (kept as given); `as_of` an ISO date or None. `agency_id` is
    a key only of an agency's result (the lender's own records have no such key).
    """
    record: dict[str, Any] = {
        "record_id": record_id,
        "account_id": account_id,
        "attempt_id": attempt_id,
        "kind": kind,
        "channel": channel,
        "outcome": outcome,
        "occurred_at": occurred_at,
        "as_of": as_of,
        "sequence": head.sequence + 1,
        "prev_hash": head.hash,
    }
    if agency_id is not None:
        record["agency_id"] = agency_id
    record["hash"] = record_hash(record)
    return record
