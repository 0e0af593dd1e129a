"""Delinquency as the runtime runs it: tables, migrations, subscriptions, handler, API."""

from __future__ import annotations

from pathlib import Path

from collections_delinquency.adapters.api import create_api
from collections_delinquency.app.handlers import handle, prefetch
from collections_delinquency.app.tables import TABLES, metadata
from collections_events.runtime.service import ServiceSpec, Subscription

SPEC = ServiceSpec(
    name="delinquency",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(
        Subscription("ledger", frozenset({"ledger.balance_changed"})),
        Subscription("clock", frozenset({"day.closed"})),
    ),
    handle=handle,
    prefetch=prefetch,
    create_api=create_api,
)
