"""`collections-delinquency`: delinquency as its own process (Kafka consumer, outbox relay, HTTP API)."""

from __future__ import annotations

from collections_delinquency.adapters.spec import SPEC
from collections_events.runtime.process import service_main


def main() -> None:
    """`collections-delinquency migrate|run` (environment: see `collections_events.runtime.process`)."""
    service_main(SPEC)
