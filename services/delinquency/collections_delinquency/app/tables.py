"""Delinquency's tables beside the shared ones (docs/decisions/0002-store-layout.md).

- `delinquency_accounts`: one row per account: the unpaid dues of its last `ledger.balance_changed`
  (JSON `[[due_date, unpaid_minor], ...]`), what was last published (bucket, delinquent_since,
  charged-off in this episode), and `wake_on`, the next business date whose close can change it
  (indexed: a close reads only rows with `wake_on <= D`). `known_since` is the last closed date when
  the account was first seen (null: before the first close), for roll rates.
- `delinquency_bucket_history`: every published bucket change, so a bucket on any date is answerable.

The last closed business date is the platform's `$clock` snapshot (collections_events.store.clock);
migration 0002 moved it there from the `delinquency_clock` table of 0001.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, MetaData, String, Table, Text

from collections_events.store.tables import SEQUENCE_TYPE, platform_tables


def delinquency_tables(metadata: MetaData) -> dict[str, Table]:
    """Add delinquency's own tables to `metadata` and return them by name."""
    accounts = Table(
        "delinquency_accounts",
        metadata,
        Column("account_id", String(200), primary_key=True),
        Column("dues", Text, nullable=False),
        Column("bucket", String(100), nullable=False),
        Column("delinquent_since", Date, nullable=True),
        Column("charged_off", Boolean, nullable=False),
        Column("wake_on", Date, nullable=True),
        Column("known_since", Date, nullable=True),
        Index("ix_delinquency_accounts_wake_on", "wake_on", "account_id"),
    )
    history = Table(
        "delinquency_bucket_history",
        metadata,
        Column("seq", SEQUENCE_TYPE, primary_key=True, autoincrement=True),
        Column("account_id", String(200), nullable=False),
        Column("as_of", Date, nullable=False),
        Column("bucket", String(100), nullable=False),
        Index("ix_delinquency_bucket_history_account", "account_id", "as_of"),
    )
    return {"accounts": accounts, "history": history}


metadata = MetaData()
TABLES = platform_tables(metadata)
OWN = delinquency_tables(metadata)
TABLES.update(OWN)
