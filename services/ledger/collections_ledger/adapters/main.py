"""`collections-ledger`: the ledger as its own process (Kafka consumer, outbox relay, HTTP API)."""

from __future__ import annotations

from collections_events.runtime.process import service_main
from collections_ledger.adapters.spec import SPEC


def main() -> None:
    """`collections-ledger migrate|run` (environment: see `collections_events.runtime.process`)."""
    service_main(SPEC)
