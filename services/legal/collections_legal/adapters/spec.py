"""Legal as the runtime runs it: tables, migrations, subscriptions, handler, API."""

from __future__ import annotations

from pathlib import Path

from collections_events.runtime.service import ServiceSpec, Subscription
from collections_legal.adapters.api import create_api
from collections_legal.app.tables import TABLES, metadata
from collections_legal.app.handlers import make_handler

SPEC = ServiceSpec(
    name="legal",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(
        Subscription("clock", frozenset({"day.closed"})),
        Subscription("ledger", frozenset({"ledger.balance_changed"})),
        Subscription("delinquency", frozenset({"delinquency.bucket_changed", "delinquency.dpd_changed"})),
        Subscription("accounts", frozenset({"account.flag_set", "account.flag_cleared"})),
        Subscription("payments", frozenset({"payment.received", "payment.reversed"})),
        Subscription(
            "outreach",
            frozenset(
                {
                    "outreach.contact_recorded",
                    "outreach.promise_recorded",
                    "outreach.promise_kept",
                    "outreach.promise_broken",
                    "outreach.arrangement_made",
                    "outreach.arrangement_completed",
                    "outreach.arrangement_broken",
                    "outreach.arrangement_declined",
                }
            ),
        ),
    ),
    handle=make_handler(TABLES),
    create_api=create_api,
)
