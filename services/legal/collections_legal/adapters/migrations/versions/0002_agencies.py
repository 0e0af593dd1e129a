"""Placements with collection agencies (issue 16; behaviour.md, Agencies).

Revision ID: 0002_agencies
Revises: 0001
"""

from alembic import op
from sqlalchemy import MetaData

from collections_legal.app.tables import placement_tables

revision = "0002_agencies"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `placement_tables` is this revision's schema: later changes go in new revisions, never there.
    metadata = MetaData()
    placement_tables(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata = MetaData()
    placement_tables(metadata)
    metadata.drop_all(op.get_bind())
