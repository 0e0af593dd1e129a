"""Alembic environment of the delinquency service's database."""

from collections_delinquency.app.tables import metadata
from collections_events.store.alembic_env import run

run(metadata)
