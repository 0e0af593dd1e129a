"""Legal's first schema: event log, outbox, inbox, snapshots; cases, case history, trail copy.

Revision ID: 0001
"""

from alembic import op
from sqlalchemy import MetaData

from collections_events.store.tables import platform_tables
from collections_legal.app.tables import legal_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `legal_tables` is this revision's schema: later changes go in new revisions, never there.
    metadata = MetaData()
    platform_tables(metadata)
    legal_tables(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    legal_tables(metadata)
    metadata.drop_all(op.get_bind())
