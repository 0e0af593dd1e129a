"""The ledger as the runtime runs it: tables, migrations, subscriptions, handlers, API."""

from __future__ import annotations

from pathlib import Path

from collections_events.runtime.handlers import dispatch, subscriptions_for
from collections_events.runtime.service import ServiceSpec
from collections_ledger.adapters.api import create_api
from collections_ledger.app.handlers import HANDLERS, prefetch
from collections_ledger.app.tables import TABLES, metadata

SPEC = ServiceSpec(
    name="ledger",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=subscriptions_for(HANDLERS),
    handle=dispatch(HANDLERS),
    prefetch=prefetch,
    create_api=create_api,
)
