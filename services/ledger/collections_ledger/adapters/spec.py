"""The ledger as the runtime runs it: tables, migrations, subscriptions, handler, API."""

from __future__ import annotations

from pathlib import Path

from collections_events.runtime.service import ServiceSpec, Subscription
from collections_ledger.adapters.api import create_api
from collections_ledger.adapters.tables import TABLES, metadata
from collections_ledger.app.handlers import handle

SPEC = ServiceSpec(
    name="ledger",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(
        Subscription("accounts", frozenset({"account.opened"})),
        Subscription("billing"),
        Subscription("payments"),
        Subscription("outreach", frozenset({"outreach.arrangement_completed"})),
    ),
    handle=handle,
    create_api=create_api,
)
