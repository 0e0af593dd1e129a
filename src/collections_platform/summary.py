"""The figures of a run, computed from the events on the log only (never from a service's tables).

So the summary means the same whatever the services keep inside: it reads the inbound events fed and
the events the platform published (contract.md), as an operations analyst downstream of Kafka would.

Definitions (documented in the README):
- as of: the business date of the last close the run fed (`day.closed.as_of`) and that event's `time`
  (the lender's end-of-day instant); every figure describes the platform after that close;
- accounts per bucket: each account's last `delinquency.bucket_changed.to_bucket` (the first bucket,
  `current`, when it never changed);
- roll rate of bucket B: of the accounts in B at one month's last close, the share in a worse bucket
  at the next month's last close (summed over the months of the run); cure rate: the share current;
- a plan is kept when `outreach.arrangement_completed`, broken when `outreach.arrangement_broken`;
- cure rate with a plan: of the accounts that were ever delinquent and had a plan made, the share
  current at the end; without: the same of the ever-delinquent accounts that had none.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from collections_platform.summary_agencies import AgencyFigures


class Summary:
    """Accumulates a run's figures from events as they are fed and published."""

    def __init__(self, bucket_names: list[str]) -> None:
        self.bucket_names = bucket_names
        self.current = bucket_names[0]
        self.currency: dict[str, str] = {}
        self.bucket: dict[str, str] = {}
        self.ever_delinquent: set[str] = set()
        self.month_ends: list[dict[str, str]] = []
        self._first_close: date | None = None
        self._last_close: date | None = None
        self._closed_at: str | None = None
        self._last_snapshot: dict[str, str] = {}
        self.days = 0
        self.inbound: Counter[str] = Counter()
        self.published: Counter[str] = Counter()
        self.requested: Counter[str] = Counter()
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.suppressed: Counter[str] = Counter()
        self.promises: Counter[str] = Counter()
        self.cases_closed: Counter[str] = Counter()
        self.arrangement_kind: dict[str, str] = {}
        self.arrangements: dict[str, Counter[str]] = defaultdict(Counter)
        self.declined: Counter[str] = Counter()
        self.plan_accounts: set[str] = set()
        self.forgiven: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.agencies = AgencyFigures()
        self.arm_of: dict[str, str] = {}
        self.arm_requested: dict[str, Counter[str]] = defaultdict(Counter)
        self.arm_suppressed: dict[str, Counter[str]] = defaultdict(Counter)
        self.promise_accounts: Counter[str] = Counter()

    def observe_inbound(self, event: dict[str, Any]) -> None:
        """One inbound event fed to the platform (structured mode)."""
        kind, data = event["type"], event["data"]
        self.inbound[kind] += 1
        if kind == "account.opened":
            self.currency[data["account_id"]] = data["currency"]
            self.bucket.setdefault(data["account_id"], self.current)
        elif kind == "day.closed":
            self._closed_at = event.get("time")

    def observe(self, kind: str, data: dict[str, Any]) -> None:
        """One event the platform published: its type and data."""
        self.published[kind] += 1
        account = data.get("account_id", "")
        self.agencies.observe(kind, data, self.currency.get(account, "?"))
        if kind == "delinquency.bucket_changed":
            self.bucket[account] = data["to_bucket"]
            if data["to_bucket"] != self.current:
                self.ever_delinquent.add(account)
        elif kind == "outreach.contact_requested":
            self.requested[data["channel"]] += 1
            arm = self.arm_of[account] = data.get("strategy", "champion")
            self.arm_requested[arm][data["channel"]] += 1
        elif kind == "outreach.contact_recorded" and data["kind"] == "result":
            self.outcomes[data["channel"]][data["outcome"]] += 1
        elif kind == "outreach.contact_suppressed":
            self.suppressed[data["reason"]] += 1
            arm = self.arm_of[account] = data.get("strategy", "champion")
            self.arm_suppressed[arm][data["reason"]] += 1
        elif kind.startswith("outreach.promise_"):
            self.promises[kind.removeprefix("outreach.promise_")] += 1
            if kind == "outreach.promise_recorded":
                self.promise_accounts[account] += 1
        elif kind == "outreach.arrangement_made":
            self.arrangement_kind[data["arrangement_id"]] = data["kind"]
            self.arrangements[data["kind"]]["made"] += 1
            if data["kind"] == "plan":
                self.plan_accounts.add(account)
        elif kind in ("outreach.arrangement_completed", "outreach.arrangement_broken"):
            arrangement_kind = self.arrangement_kind.get(data["arrangement_id"], data.get("kind", "plan"))
            self.arrangements[arrangement_kind][kind.removeprefix("outreach.arrangement_")] += 1
        elif kind == "outreach.arrangement_declined":
            self.declined[data["reason"]] += 1
        elif kind == "ledger.waiver_posted":
            self.forgiven[self.currency.get(account, "?")] += data["amount_minor"]
        elif kind == "legal.case_closed":
            self.cases_closed[data["reason"]] += 1
        elif kind == "system.event_rejected":
            self.rejections[str(data.get("type"))] += 1

    def close_day(self, day: date) -> None:
        """Called once `day.closed` for `day` and all its consequences have been published."""
        if self._last_close is not None and day.month != self._last_close.month:
            self.month_ends.append(self._last_snapshot)
        self._last_snapshot = dict(self.bucket)
        if self._first_close is None:
            self._first_close = day
        self._last_close = day
        self.days += 1

    # ---- the figures ------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """Every figure of the run as plain JSON-able data (the terminal and the web page show it)."""
        per_bucket = Counter(self.bucket.values())
        delinquent = self.ever_delinquent
        with_plan = delinquent & self.plan_accounts
        without_plan = delinquent - self.plan_accounts
        return {
            "days": self.days,
            "as_of": {
                "business_date": self._last_close.isoformat() if self._last_close else None,
                "closed_at": self._closed_at,
                "first_business_date": self._first_close.isoformat() if self._first_close else None,
                "month_ends": len(self.month_ends),
            },
            "accounts": len(self.bucket),
            "buckets": {name: per_bucket.get(name, 0) for name in self.bucket_names},
            "roll_rates": self._roll_rates(),
            "charged_off": self.published["delinquency.charged_off"],
            "contacts_requested": dict(sorted(self.requested.items())),
            "contact_outcomes": {c: dict(sorted(o.items())) for c, o in sorted(self.outcomes.items())},
            "suppressions": dict(self.suppressed.most_common()),
            "promises": {k: self.promises.get(k, 0) for k in ("recorded", "kept", "broken")},
            "cases": {
                "opened": self.published["legal.case_opened"],
                "closed": sum(self.cases_closed.values()),
                "closed_by_reason": dict(self.cases_closed.most_common()),
            },
            "arrangements": {
                kind: {k: self.arrangements[kind].get(k, 0) for k in ("made", "completed", "broken")}
                for kind in ("plan", "settlement")
            },
            "arrangements_declined": dict(self.declined.most_common()),
            "forgiven_minor": dict(sorted(self.forgiven.items())),
            "cure": {
                "ever_delinquent": len(delinquent),
                "with_plan": _rate(sum(1 for a in with_plan if self.bucket.get(a) == self.current), len(with_plan)),
                "with_plan_accounts": len(with_plan),
                "without_plan": _rate(
                    sum(1 for a in without_plan if self.bucket.get(a) == self.current), len(without_plan)
                ),
                "without_plan_accounts": len(without_plan),
            },
            "events": {
                "inbound": sum(self.inbound.values()),
                "published": sum(self.published.values()),
                "published_by_type": dict(sorted(self.published.items())),
            },
            "rejected": dict(self.rejections.most_common()),
            "agencies": self.agencies.figures(),
            "arms": self._arms(),
        }

    def _arms(self) -> dict[str, dict[str, Any]]:
        """Per experiment arm (the `strategy` of its requests and suppressions): accounts treated, contacts
        by channel, suppressions, promises recorded, and the share of them current at the end."""
        out: dict[str, dict[str, Any]] = {}
        for arm in sorted(set(self.arm_of.values())):
            accounts = [a for a, x in self.arm_of.items() if x == arm]
            current = sum(1 for a in accounts if self.bucket.get(a) == self.current)
            out[arm] = {
                "accounts_treated": len(accounts),
                "contacts_requested": dict(sorted(self.arm_requested[arm].items())),
                "suppressions": dict(self.arm_suppressed[arm].most_common()),
                "promises_recorded": sum(self.promise_accounts[a] for a in accounts),
                "current_at_end": _rate(current, len(accounts)),
            }
        return out

    def _roll_rates(self) -> list[dict[str, Any]]:
        order = {name: i for i, name in enumerate(self.bucket_names)}
        rows = []
        for i, name in enumerate(self.bucket_names[:-1]):
            base = rolled = cured = 0
            for before, after in zip(self.month_ends, self.month_ends[1:], strict=False):
                for account, bucket in before.items():
                    if bucket != name:
                        continue
                    base += 1
                    later = after.get(account, self.current)
                    if order.get(later, 0) > i:
                        rolled += 1
                    elif later == self.current and i > 0:
                        cured += 1
            rows.append(
                {"from": name, "accounts": base, "roll_forward": _rate(rolled, base), "cure": _rate(cured, base)}
            )
        return rows


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
