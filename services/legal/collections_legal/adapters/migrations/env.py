"""Alembic environment of legal's database."""

from collections_events.store.alembic_env import run
from collections_legal.app.tables import metadata

run(metadata)
