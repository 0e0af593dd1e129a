"""The ledger's first schema: event log, outbox, inbox, snapshots.

Revision ID: 0001
"""

from alembic import op
from sqlalchemy import MetaData

from collections_events.store.tables import platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    metadata.drop_all(op.get_bind())
