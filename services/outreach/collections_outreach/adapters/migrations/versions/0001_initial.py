"""Outreach's first schema: event log, outbox, inbox, snapshots, the append-only contact trail and
the treatment index.

The trail is append-only in the database itself: triggers refuse UPDATE and DELETE on SQLite and on
PostgreSQL (and TRUNCATE there), and on PostgreSQL the service's role `outreach_service` gets only
SELECT and INSERT on it. The role is created when the migrating user may create roles (an
administrator in production); the service then connects as that role.

Revision ID: 0001
"""

from alembic import op
from sqlalchemy import MetaData

from collections_events.store.tables import platform_tables
from collections_outreach.app.tables import SERVICE_ROLE, trail_table, treatment_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_GUARDS = [
    "CREATE TRIGGER contact_trail_no_update BEFORE UPDATE ON contact_trail "
    "BEGIN SELECT RAISE(ABORT, 'contact_trail is append-only: UPDATE refused'); END",
    "CREATE TRIGGER contact_trail_no_delete BEFORE DELETE ON contact_trail "
    "BEGIN SELECT RAISE(ABORT, 'contact_trail is append-only: DELETE refused'); END",
]

POSTGRES_GUARDS = [
    """CREATE FUNCTION contact_trail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'contact_trail is append-only: % refused', TG_OP USING ERRCODE = '42501';
    END $$""",
    "CREATE TRIGGER contact_trail_no_update_delete BEFORE UPDATE OR DELETE ON contact_trail "
    "FOR EACH ROW EXECUTE FUNCTION contact_trail_append_only()",
    "CREATE TRIGGER contact_trail_no_truncate BEFORE TRUNCATE ON contact_trail "
    "FOR EACH STATEMENT EXECUTE FUNCTION contact_trail_append_only()",
    f"""DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}')
         AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
          CREATE ROLE {SERVICE_ROLE} LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
      END IF;
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO {SERVICE_ROLE}', current_database());
        GRANT USAGE ON SCHEMA public TO {SERVICE_ROLE};
        REVOKE ALL ON contact_trail FROM {SERVICE_ROLE};
        GRANT SELECT, INSERT ON contact_trail TO {SERVICE_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON events, outbox, inbox, snapshots, treatment TO {SERVICE_ROLE};
        GRANT SELECT ON alembic_version TO {SERVICE_ROLE};
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {SERVICE_ROLE};
      END IF;
    END $$""",
]


def upgrade() -> None:
    metadata = MetaData()
    platform_tables(metadata)
    trail_table(metadata)
    treatment_table(metadata)
    bind = op.get_bind()
    metadata.create_all(bind)
    guards = POSTGRES_GUARDS if bind.dialect.name == "postgresql" else SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TABLE contact_trail")
        op.execute("DROP FUNCTION IF EXISTS contact_trail_append_only()")
    metadata = MetaData()
    platform_tables(metadata)
    trail_table(metadata)
    treatment_table(metadata)
    metadata.drop_all(bind)
