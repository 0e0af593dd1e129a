"""Delinquency as the runtime runs it: tables, migrations, subscriptions, handlers, API."""

from __future__ import annotations

from pathlib import Path

from collections_delinquency.adapters.api import create_api
from collections_delinquency.app.handlers import HANDLERS, prefetch
from collections_delinquency.app.tables import TABLES, metadata
from collections_events.runtime.handlers import dispatch, subscriptions_for
from collections_events.runtime.service import ServiceSpec

SPEC = ServiceSpec(
    name="delinquency",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=subscriptions_for(HANDLERS),
    handle=dispatch(HANDLERS),
    prefetch=prefetch,
    create_api=create_api,
)
