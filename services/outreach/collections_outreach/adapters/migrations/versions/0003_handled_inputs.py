"""The log of the events outreach handled, per account and for the closes (explanations, issue 17).

Revision ID: 0002
"""

from alembic import op
from sqlalchemy import MetaData

from collections_events.store.handled_inputs import handled_inputs_table
from collections_outreach.app.tables import SERVICE_ROLE

revision = "0003"
down_revision = "0002_agencies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = MetaData()
    handled_inputs_table(metadata)
    bind = op.get_bind()
    metadata.create_all(bind)
    if bind.dialect.name == "postgresql":
        op.execute(
            f"""DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
        GRANT SELECT, INSERT ON handled_inputs TO {SERVICE_ROLE};
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {SERVICE_ROLE};
      END IF;
    END $$"""
        )


def downgrade() -> None:
    metadata = MetaData()
    handled_inputs_table(metadata)
    metadata.drop_all(op.get_bind())
