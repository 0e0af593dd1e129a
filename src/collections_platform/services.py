"""The services this installation has, in the embedded default's fixed running order."""

from __future__ import annotations

from collections_delinquency.adapters.spec import SPEC as DELINQUENCY
from collections_events.runtime.service import ServiceSpec
from collections_ledger.adapters.spec import SPEC as LEDGER
from collections_legal.adapters.spec import SPEC as LEGAL
from collections_outreach.adapters.spec import SPEC as OUTREACH

ORDER = ("ledger", "delinquency", "outreach", "legal")
SPECS: tuple[ServiceSpec, ...] = (LEDGER, DELINQUENCY, OUTREACH, LEGAL)


def available_specs() -> list[ServiceSpec]:
    """The four services' specs, in ORDER."""
    return list(SPECS)
