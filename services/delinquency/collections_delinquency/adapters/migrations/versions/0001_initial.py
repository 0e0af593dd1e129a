"""Delinquency's first schema: event log, outbox, inbox, snapshots; accounts, clock, bucket history.

Revision ID: 0001

The `delinquency_clock` table is written out here as it was: 0002 moves its value into the `$clock`
snapshot and drops it, so the current tables (app/tables.py) no longer have it.
"""

from alembic import op
from sqlalchemy import Column, Date, Integer, MetaData, Table, insert

from collections_delinquency.app.tables import delinquency_tables
from collections_events.store.tables import platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def clock_table(metadata: MetaData) -> Table:
    """The one-row table of the last closed business date, as 0001 made it."""
    return Table(
        "delinquency_clock",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("last_closed", Date, nullable=True),
    )


def upgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    delinquency_tables(metadata)
    clock = clock_table(metadata)
    metadata.create_all(op.get_bind())
    op.get_bind().execute(insert(clock).values(id=1, last_closed=None))


def downgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    delinquency_tables(metadata)
    clock_table(metadata)
    metadata.drop_all(op.get_bind())
