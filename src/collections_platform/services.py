"""The services this installation has, in the embedded default's fixed running order."""

from __future__ import annotations

import importlib

from collections_events.runtime.service import ServiceSpec

ORDER = ("ledger", "delinquency", "outreach", "legal")


def available_specs() -> list[ServiceSpec]:
    """Each installed service's spec, in ORDER (a service not yet built is left out)."""
    specs = []
    for name in ORDER:
        try:
            module = importlib.import_module(f"collections_{name}.adapters.spec")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"collections_{name}"):
                continue
            raise
        specs.append(module.SPEC)
    return specs
