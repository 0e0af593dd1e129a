"""`collections-delinquency`: delinquency as its own process (Kafka consumer, outbox relay, HTTP API)."""

from __future__ import annotations

import importlib

from collections_delinquency.adapters.spec import SPEC


def main() -> None:
    """Run delinquency on Kafka and PostgreSQL.

    The process runner lives in `collections_events.runtime.process` (built by the platform's lead);
    until it exists this command says so and exits non-zero.
    """
    try:
        process = importlib.import_module("collections_events.runtime.process")
    except ModuleNotFoundError:
        raise SystemExit("collections-delinquency: the Kafka process runner is not built yet") from None
    process.service_main(SPEC)
