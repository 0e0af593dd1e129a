"""Outreach's tables: the shared ones, the append-only contact trail, and the treatment index.

- `contact_trail`: one row per `outreach.contact_recorded`, primary key (account_id, sequence). The
  database refuses UPDATE and DELETE on it (triggers on SQLite and PostgreSQL; on PostgreSQL the
  service's role `SERVICE_ROLE` also has no UPDATE/DELETE grant). See migrations/versions/0001.
- `treatment`: the accounts in a delinquency episode and since when (for the agents' listing).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, UniqueConstraint

from collections_events.store.handled_inputs import handled_inputs_table
from collections_events.store.tables import platform_tables

SERVICE_ROLE = "outreach_service"
"""The PostgreSQL role the service runs as: no UPDATE, DELETE or TRUNCATE on `contact_trail`."""

metadata = MetaData()
TABLES = platform_tables(metadata)


def trail_table(meta: MetaData) -> Table:
    """The contact trail's shape (the fields of `outreach.contact_recorded`)."""
    return Table(
        "contact_trail",
        meta,
        Column("account_id", String(200), primary_key=True),
        Column("sequence", Integer, primary_key=True, autoincrement=False),
        Column("record_id", String(200), nullable=False),
        Column("attempt_id", String(200), nullable=True),
        Column("kind", String(20), nullable=False),
        Column("channel", String(20), nullable=False),
        Column("outcome", String(40), nullable=True),
        Column("occurred_at", String(64), nullable=False),
        Column("as_of", String(10), nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        UniqueConstraint("record_id", name="uq_contact_trail_record_id"),
    )


def agency_trail_column() -> Column[str]:
    """The trail's `agency_id` column (migration 0002_agencies): set only on an agency's result."""
    return Column("agency_id", String(200), nullable=True)


def conduct_table(meta: MetaData) -> Table:
    """`conduct_breaches`: one row per `outreach.conduct_breach` (migration 0002_agencies), for the API.

    `local_date` is the result's `occurred_at` in the customer's timezone when it was recorded.
    """
    return Table(
        "conduct_breaches",
        meta,
        Column("breach_id", String(200), primary_key=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("agency_id", String(200), nullable=False, index=True),
        Column("record_id", String(200), nullable=False),
        Column("rule", String(40), nullable=False, index=True),
        Column("channel", String(20), nullable=False),
        Column("occurred_at", String(64), nullable=False),
        Column("local_date", Date, nullable=False, index=True),
    )


def treatment_table(meta: MetaData) -> Table:
    """Accounts in an episode (`delinquent_since` not null), indexed for the agents' listing."""
    return Table(
        "treatment",
        meta,
        Column("account_id", String(200), primary_key=True),
        Column("delinquent_since", Date, nullable=False),
    )


TRAIL = trail_table(metadata)
TRAIL.append_column(agency_trail_column())
TREATMENT = treatment_table(metadata)
CONDUCT = conduct_table(metadata)
TABLES["contact_trail"] = TRAIL
TABLES["treatment"] = TREATMENT
TABLES["conduct_breaches"] = CONDUCT
INPUTS = handled_inputs_table(metadata)
TABLES["handled_inputs"] = INPUTS
