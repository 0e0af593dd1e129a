"""`collections-outreach`: outreach as its own process (Kafka consumer, outbox relay, HTTP API)."""

from __future__ import annotations

from collections_events.runtime.process import service_main
from collections_outreach.adapters.spec import SPEC


def main() -> None:
    """`collections-outreach migrate|run` (environment: see `collections_events.runtime.process`)."""
    service_main(SPEC)
