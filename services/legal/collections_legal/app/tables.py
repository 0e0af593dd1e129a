"""Legal's tables: the shared ones, its cases, each case's history, and its copy of contact trails.

`handled_inputs` keeps every event legal handled per account and every close (referral
explanations, app/referral_explain.py). Per-account state (unpaid dues, flags, promises,
arrangements, request counts, open case) is a JSON snapshot in the shared `snapshots` table, with
`wake_on` = the first close that may refer it (see `collections_legal.app.state`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from collections_events.store.handled_inputs import handled_inputs_table
from collections_events.store.tables import SEQUENCE_TYPE, platform_tables


def legal_tables(metadata: MetaData) -> dict[str, Table]:
    """Add legal's own tables to `metadata` (schema of migration 0001)."""
    cases = Table(
        "legal_cases",
        metadata,
        Column("case_id", String(200), primary_key=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("state", String(20), nullable=False, index=True),
        Column("opened_on", Date, nullable=False, index=True),
        Column("dpd", Integer, nullable=False, index=True),
        Column("past_due_minor", BigInteger, nullable=False),
        Column("contact_attempts", Integer, nullable=False),
        Column("closed_on", Date, nullable=True),
        Column("close_reason", String(20), nullable=True),
        Column("opened_event_id", String(200), nullable=False),
        Column("version", Integer, nullable=False),
    )
    history = Table(
        "legal_case_history",
        metadata,
        Column("seq", SEQUENCE_TYPE, primary_key=True, autoincrement=True),
        Column("case_id", String(200), nullable=False),
        Column("step", Integer, nullable=False),
        Column("from_state", String(20), nullable=True),
        Column("to_state", String(20), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("note", Text, nullable=True),
        Column("court", Text, nullable=True),
        Column("docket_number", String(200), nullable=True),
        Column("amount_minor", BigInteger, nullable=True),
        Column("on_date", Date, nullable=True),
        Column("reason", String(20), nullable=True),
        Column("as_of", Date, nullable=True),
        Column("event_id", String(200), nullable=False),
        Column("time", String(64), nullable=False),
        UniqueConstraint("case_id", "step", name="uq_legal_case_history_step"),
    )
    trail = Table(
        "legal_trail",
        metadata,
        Column("record_id", String(200), primary_key=True),
        Column("account_id", String(200), nullable=False),
        Column("sequence", Integer, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("as_of", Date, nullable=True),
        Column("record", Text, nullable=False),
        Index("ix_legal_trail_account_sequence", "account_id", "sequence"),
    )
    return {"cases": cases, "case_history": history, "trail": trail}


def placement_tables(metadata: MetaData) -> dict[str, Table]:
    """Add legal's placements table to `metadata` (schema of migration 0002_agencies)."""
    placements = Table(
        "legal_placements",
        metadata,
        Column("placement_id", String(200), primary_key=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("agency_id", String(200), nullable=False, index=True),
        Column("placed_on", Date, nullable=False, index=True),
        Column("dpd", Integer, nullable=False),
        Column("past_due_minor", BigInteger, nullable=False),
        Column("recall_on", Date, nullable=False),
        Column("status", String(20), nullable=False, index=True),
        Column("recalled_on", Date, nullable=True),
        Column("reason", String(20), nullable=True),
        Column("collected_minor", BigInteger, nullable=True),
        Column("commission_minor", BigInteger, nullable=True),
        Column("placed_event_id", String(200), nullable=False),
        Column("recalled_event_id", String(200), nullable=True),
    )
    return {"placements": placements}


metadata = MetaData()
TABLES = {
    **platform_tables(metadata),
    **legal_tables(metadata),
    **placement_tables(metadata),
    "handled_inputs": handled_inputs_table(metadata),  # migration 0003_handled_inputs
}
