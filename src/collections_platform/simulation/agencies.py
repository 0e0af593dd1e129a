"""The simulated lender's collection agencies, and the agencies themselves at work (issue 16).

`lender_config(config)`: `collections run` without `--config` is a lender that hands small balances
to two agencies: `legal.min_past_due_minor` keeps them out of court and `legal.placement` places
them at 120 dpd with `north` (40 %, 18 % commission) or `south` (60 %, 12.5 %).

`AgencySimulator` plays the agencies: it learns placements and recalls from `legal.*` events, and on
each business day an agency calls some of the accounts it holds (daytime, local), now and then
reaching the customer (a payment may follow, which the portfolio publishes) and now and then
breaking a rule so that the monitoring has something to find: a call at 21:30 local, a burst of
four calls in one day, a call the day after a right-party contact. `south` is the sloppier one.
Seeded per account and day, so a run is reproducible.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collections_events.config import PlatformConfig, parse_config
from collections_platform.simulation.calendar import next_business_day
from collections_platform.simulation.channels import PlannedPayment

LENDER_AGENCIES: list[dict[str, Any]] = [
    {"id": "north", "share_pct": 40, "commission_pct": 18},
    {"id": "south", "share_pct": 60, "commission_pct": 12.5},
]
MIN_PAST_DUE_MINOR = 60_000
"""Below this past-due amount the simulated lender does not sue: the account goes to an agency."""
SLOPPINESS = {"north": 0.03, "south": 0.08}
"""Per agency, the chance on a working day that it breaks a rule on an account it holds."""


def lender_config(config: PlatformConfig) -> PlatformConfig:
    """`config` with the simulated lender's agencies and small-balance threshold, unless it has agencies."""
    if config.legal.placement.agencies:
        return config
    raw = config.model_dump(mode="json")
    raw["legal"]["placement"]["agencies"] = LENDER_AGENCIES
    raw["legal"]["min_past_due_minor"] = max(raw["legal"]["min_past_due_minor"], MIN_PAST_DUE_MINOR)
    return parse_config(raw)


def lender_config_yaml(config: PlatformConfig) -> dict[str, Any]:
    """`config` as the YAML document `collections replay --config` reads (the run records it)."""
    return config.model_dump(mode="json")


@dataclass
class _Held:
    agency_id: str
    since: date
    timezone: str
    past_due_minor: int
    last_rpc: date | None = None


@dataclass
class AgencySimulator:
    """The agencies working the accounts placed with them (see the module's docstring)."""

    seed: int
    timezones: dict[str, str] = field(default_factory=dict)
    held: dict[str, _Held] = field(default_factory=dict)
    pending: list[PlannedPayment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:collections-simulation:{self.seed}:agencies")

    def observe(self, event: dict[str, Any]) -> None:
        """Learn from one event (structured mode): timezones, placements, recalls."""
        kind, data = event["type"], event["data"]
        account_id = data.get("account_id")
        if not isinstance(account_id, str):
            return
        if kind in ("account.opened", "account.contacts_updated") and data.get("timezone"):
            self.timezones[account_id] = data["timezone"]
        elif kind == "legal.account_placed":
            zone = self.timezones.get(account_id, "UTC")
            since = date.fromisoformat(data["as_of"])
            self.held[account_id] = _Held(data["agency_id"], since, zone, data["past_due_minor"])
        elif kind == "legal.placement_recalled":
            self.held.pop(account_id, None)

    def take_payments(self) -> list[PlannedPayment]:
        """Payments customers agreed with an agency since the last call."""
        out, self.pending = self.pending, []
        return out

    def work(self, day: date) -> list[dict[str, Any]]:
        """What the agencies report of business date `day` (after the placing close)."""
        results: list[dict[str, Any]] = []
        for account_id in sorted(self.held):
            held = self.held[account_id]
            if day <= held.since:
                continue
            rng = random.Random(f"{self.seed}:agency:{account_id}:{day.isoformat()}")
            if rng.random() > 0.35:
                continue
            sloppy = rng.random() < SLOPPINESS.get(held.agency_id, 0.02)
            slip = rng.choice(("late", "burst", "cooldown")) if sloppy else None
            if held.last_rpc is not None and (day - held.last_rpc).days < 7 and slip != "cooldown":
                continue  # a careful agency leaves a week after reaching the customer
            hours = [rng.randrange(9, 19)]
            if slip == "late":
                hours = [21]
            elif slip == "burst":
                hours = [9, 11, 14, 17]
            for n, hour in enumerate(hours):
                minute = 30 if slip == "late" else rng.randrange(0, 60)
                local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(held.timezone))
                outcome = rng.choices(["no_answer", "voicemail", "answered_rpc", "busy"], [45, 25, 22, 8])[0]
                if outcome == "answered_rpc":
                    held.last_rpc = day
                    if rng.random() < 0.3:
                        pay_on = next_business_day(day + timedelta(days=rng.randrange(1, 6)))
                        share = rng.choice((0.25, 0.5, 1.0))
                        self.pending.append(PlannedPayment(account_id, pay_on, int(held.past_due_minor * share)))
                results.append(self._result(account_id, held.agency_id, day, n, local, outcome))
        return results

    def _result(
        self, account_id: str, agency_id: str, day: date, n: int, local: datetime, outcome: str
    ) -> dict[str, Any]:
        occurred = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid5(self._namespace, f"{account_id}:{day.isoformat()}:{n}")),
            "source": f"agencies/{agency_id}",
            "type": "contact.result_reported",
            "subject": account_id,
            "time": occurred,
            "datacontenttype": "application/json",
            "data": {
                "account_id": account_id,
                "attempt_id": None,
                "agency_id": agency_id,
                "channel": "call",
                "outcome": outcome,
                "occurred_at": occurred,
            },
        }
