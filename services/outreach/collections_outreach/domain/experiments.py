"""Champion/challenger arms (behaviour.md, Strategy experiments).

h = the first 8 bytes, big-endian, of SHA-256 of the UTF-8 bytes of `"experiment:" + account_id`,
modulo 100; the experiments take consecutive ranges of h in list order (shares 20 then 10: h 0-19
the first, 20-29 the second), the rest is `champion` (the configured `outreach.strategy`). An
account keeps its arm for good, in replay and distributed alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from collections_events.config import CHAMPION, OutreachConfig, Step


def arm_hash(account_id: str) -> int:
    """h in 0..99 for `account_id` (the spec's hash rule)."""
    digest = hashlib.sha256(("experiment:" + account_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def arm_of(account_id: str, config: OutreachConfig) -> str:
    """The arm id of `account_id`: an experiment's id, or `champion`."""
    h = arm_hash(account_id)
    start = 0
    for experiment in config.experiments:
        share: int = experiment.share_pct
        if start <= h < start + share:
            found: str = experiment.id
            return found
        start += share
    return str(CHAMPION)


def arm_strategy(arm: str, config: OutreachConfig) -> Sequence[Step]:
    """The steps arm `arm` runs (the champion's for `champion` or an arm no longer configured)."""
    for experiment in config.experiments:
        if experiment.id == arm:
            steps: Sequence[Step] = experiment.strategy
            return steps
    champion: Sequence[Step] = config.strategy
    return champion


def arms(config: OutreachConfig) -> list[str]:
    """Every arm of the configuration: `champion` first, then the experiments in list order."""
    return [CHAMPION, *(e.id for e in config.experiments)]
