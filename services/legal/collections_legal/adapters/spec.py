"""Legal as the runtime runs it: tables, migrations, subscriptions, handler, API."""

from __future__ import annotations

from pathlib import Path

from collections_events.runtime.handlers import dispatch, subscriptions_for
from collections_events.runtime.service import ServiceSpec
from collections_legal.adapters.api import create_api
from collections_legal.app.handlers import COMMANDS, HANDLERS
from collections_legal.app.tables import TABLES, metadata

SPEC = ServiceSpec(
    name="legal",
    metadata=metadata,
    tables=TABLES,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=subscriptions_for(HANDLERS),
    handle=dispatch({**HANDLERS, **COMMANDS}),
    create_api=create_api,
)
