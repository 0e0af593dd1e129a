"""`collections-outreach`: run outreach as its own process (Kafka and PostgreSQL).

The Kafka process runner is wired by the lead engineer (`collections_events.runtime.process`);
until it exists this entry point says so and exits with status 2.
"""

from __future__ import annotations

import importlib
import sys

from collections_outreach.adapters.spec import SPEC


def main() -> int:
    """Start outreach on the process runner, when the platform provides one."""
    try:
        process = importlib.import_module("collections_events.runtime.process")
    except ModuleNotFoundError:
        # TODO(lead): wire the Kafka process runner (collections_events.runtime.process.service_main).
        print("collections-outreach: the Kafka process runner is not built yet", file=sys.stderr)
        return 2
    result = process.service_main(SPEC)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
