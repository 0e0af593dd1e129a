"""The body of every service's Alembic `env.py`: run migrations on the connection we were given.

Migrations run through `Database.migrate` (the service's `migrate` command, or its start), which
passes its connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData


def run(target_metadata: MetaData) -> None:
    """Run the migrations of the current Alembic context against `target_metadata`.

    Raises RuntimeError when called without a connection (use `collections-<service> migrate`).
    """
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `collections-<service> migrate`, which passes the connection")
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
