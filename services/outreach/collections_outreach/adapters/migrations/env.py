"""Alembic environment of outreach's database."""

from collections_events.store.alembic_env import run
from collections_outreach.app.tables import metadata

run(metadata)
