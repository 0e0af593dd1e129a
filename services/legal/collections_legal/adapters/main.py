"""`collections-legal migrate|run`: legal as its own process (Kafka and PostgreSQL).

Runs on the platform's process runner (`collections_events.runtime.process.service_main`); where
that runner is not installed, it says so and exits with status 2.
"""

from __future__ import annotations

import importlib
import sys

from collections_legal.adapters.spec import SPEC


def main() -> int:
    """Start legal on the process runner: consumer, outbox relay and API."""
    try:
        process = importlib.import_module("collections_events.runtime.process")
    except ModuleNotFoundError:
        print("collections-legal: the Kafka process runner is not installed", file=sys.stderr)
        return 2
    process.service_main(SPEC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
