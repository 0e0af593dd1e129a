"""Per-agency figures of a run, from the events on the log only (like `summary.Summary`).

- placements open at the end, and recalled by reason (`legal.account_placed`, `legal.placement_recalled`);
- collected and commission: sums over recalls, per currency (minor units);
- breaches by rule (`outreach.conduct_breach`), and agency contacts (`outreach.contact_recorded` with
  `agency_id`), so that a breach rate can be read beside them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

RULES = ("deceased", "bankruptcy", "cease_and_desist", "dispute", "outside_window", "rpc_cooldown", "frequency_cap")
RECALL_REASONS = ("bankruptcy", "deceased", "dispute", "cured", "expired")


class AgencyFigures:
    """Accumulates, per agency id, placements, recalls, money and breaches."""

    def __init__(self) -> None:
        self.placed: Counter[str] = Counter()
        self.recalled: dict[str, Counter[str]] = defaultdict(Counter)
        self.collected: dict[str, Counter[str]] = defaultdict(Counter)
        self.commission: dict[str, Counter[str]] = defaultdict(Counter)
        self.breaches: dict[str, Counter[str]] = defaultdict(Counter)
        self.contacts: Counter[str] = Counter()

    def observe(self, kind: str, data: dict[str, Any], currency: str = "?") -> None:
        """One event the platform published; `currency` is its account's."""
        if kind == "legal.account_placed":
            self.placed[data["agency_id"]] += 1
        elif kind == "legal.placement_recalled":
            agency = data["agency_id"]
            self.recalled[agency][data["reason"]] += 1
            self.collected[agency][currency] += data["collected_minor"]
            self.commission[agency][currency] += data["commission_minor"]
        elif kind == "outreach.conduct_breach":
            self.breaches[data["agency_id"]][data["rule"]] += 1
        elif kind == "outreach.contact_recorded" and data.get("agency_id"):
            self.contacts[data["agency_id"]] += 1

    def figures(self) -> dict[str, dict[str, Any]]:
        """Per agency (by id): placed, open, recalled_by_reason, collected_minor and commission_minor
        ({currency: minor units}), contacts, breaches_by_rule (rules in the spec's order)."""
        agencies = sorted(set(self.placed) | set(self.recalled) | set(self.breaches) | set(self.contacts))
        out: dict[str, dict[str, Any]] = {}
        for agency in agencies:
            recalled = self.recalled.get(agency, Counter())
            out[agency] = {
                "placed": self.placed[agency],
                "open": self.placed[agency] - sum(recalled.values()),
                "recalled_by_reason": {r: recalled[r] for r in RECALL_REASONS if recalled[r]},
                "collected_minor": dict(sorted(self.collected[agency].items())),
                "commission_minor": dict(sorted(self.commission[agency].items())),
                "contacts": self.contacts[agency],
                "breaches_by_rule": {r: self.breaches[agency][r] for r in RULES if self.breaches[agency][r]},
            }
        return out
