"""Delinquency's first schema: event log, outbox, inbox, snapshots; accounts, clock, bucket history.

Revision ID: 0001
"""

from alembic import op
from sqlalchemy import MetaData, insert

from collections_delinquency.app.tables import delinquency_tables
from collections_events.store.tables import platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    own = delinquency_tables(metadata)
    metadata.create_all(op.get_bind())
    op.get_bind().execute(insert(own["clock"]).values(id=1, last_closed=None))


def downgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    delinquency_tables(metadata)
    metadata.drop_all(op.get_bind())
