"""The log of the events legal handled, per account and for the closes (referral explanations, issue 17).

Revision ID: 0003_handled_inputs
Revises: 0002_agencies
"""

from alembic import op
from sqlalchemy import MetaData

from collections_events.store.handled_inputs import handled_inputs_table

revision = "0003_handled_inputs"
down_revision = "0002_agencies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = MetaData()
    handled_inputs_table(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata = MetaData()
    handled_inputs_table(metadata)
    metadata.drop_all(op.get_bind())
