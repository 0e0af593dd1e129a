"""Agencies (issue 16): the trail's `agency_id` column and the conduct breaches table.

The column is nullable and set only on a record of an agency's result, so the lender's own records
(and their hashes) are unchanged. The trail stays append-only: its triggers and grants are on the
table, and cover the new column.

Revision ID: 0002_agencies
Revises: 0001
"""

from alembic import op
from sqlalchemy import MetaData

from collections_outreach.app.tables import SERVICE_ROLE, agency_trail_column, conduct_table

revision = "0002_agencies"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact_trail", agency_trail_column())
    metadata = MetaData()
    conduct_table(metadata)
    bind = op.get_bind()
    metadata.create_all(bind)
    if bind.dialect.name == "postgresql":
        op.execute(
            f"""DO $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
                GRANT SELECT, INSERT ON conduct_breaches TO {SERVICE_ROLE};
              END IF;
            END $$"""
        )


def downgrade() -> None:
    metadata = MetaData()
    conduct_table(metadata)
    metadata.drop_all(op.get_bind())
    op.drop_column("contact_trail", "agency_id")
