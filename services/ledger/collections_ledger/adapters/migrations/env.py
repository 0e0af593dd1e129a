"""Alembic environment of the ledger's database."""

from collections_events.store.alembic_env import run
from collections_ledger.app.tables import metadata

run(metadata)
