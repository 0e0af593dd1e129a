"""The hash chain of `outreach.contact_recorded` (contract.md): how a record's `hash` is made.

`hash` = hex SHA-256 of the UTF-8 bytes of `prev_hash` followed by the record's canonical JSON
(every field but `hash`, keys sorted, separators `,` and `:`, non-ASCII kept). The first record of
an account has `prev_hash` = 64 zeros. Outreach makes the chain; legal and auditors verify it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(record: Mapping[str, Any]) -> str:
    """The record's canonical JSON: every field but `hash`, keys sorted, no spaces, non-ASCII kept."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """The hash the record must carry, from its own `prev_hash` and fields."""
    payload = str(record["prev_hash"]) + canonical_json(record)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainVerdict:
    """The result of verifying one account's trail: ok, or the first record that does not match."""

    ok: bool
    records: int
    first_bad_sequence: int | None = None
    first_bad_record_id: str | None = None
    reason: str | None = None


def verify_chain(records: Iterable[Mapping[str, Any]]) -> ChainVerdict:
    """Recompute the chain over `records` (in `sequence` order) and name the first mismatch.

    A record does not match when its `sequence` is not the next number, its `prev_hash` is not the
    previous record's `hash` (64 zeros for the first), or its `hash` is not `record_hash(record)`.
    """
    expected_prev = GENESIS_HASH
    count = 0
    for expected_sequence, record in enumerate(records, start=1):
        count += 1
        reason = None
        if record.get("sequence") != expected_sequence:
            reason = f"sequence is {record.get('sequence')}, expected {expected_sequence}"
        elif record.get("prev_hash") != expected_prev:
            reason = "prev_hash does not match the previous record's hash"
        elif record.get("hash") != record_hash(record):
            reason = "hash does not match the record's content"
        if reason:
            return ChainVerdict(False, count, record.get("sequence"), record.get("record_id"), reason)
        expected_prev = str(record["hash"])
    return ChainVerdict(True, count)
