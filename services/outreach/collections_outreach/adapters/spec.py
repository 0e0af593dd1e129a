"""Outreach as the runtime runs it: tables, migrations, subscriptions, handler, API."""

from __future__ import annotations

from pathlib import Path

from collections_events.runtime.service import ServiceSpec, Subscription
from collections_outreach.adapters.api import create_api
from collections_outreach.app.handlers import handle
from collections_outreach.app.tables import TABLES, metadata

SPEC = ServiceSpec(
    name="outreach",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(
        Subscription("accounts"),
        Subscription("clock", frozenset({"day.closed"})),
        Subscription(
            "delinquency",
            frozenset({"delinquency.bucket_changed", "delinquency.dpd_changed", "delinquency.charged_off"}),
        ),
        Subscription("results", frozenset({"contact.result_reported"})),
        Subscription(
            "legal",
            frozenset({"legal.case_opened", "legal.case_closed", "legal.account_placed", "legal.placement_recalled"}),
        ),
        Subscription("payments", frozenset({"payment.received", "payment.reversed"})),
        Subscription("billing", frozenset({"payment.due"})),
    ),
    handle=handle,
    create_api=create_api,
)
