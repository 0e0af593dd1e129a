"""Simulated channel providers: SMS gateway, email, push, the dialer and the letter shop.

An adapter outside the services' decisions: it reads `outreach.contact_requested` and answers each with
one `contact.result_reported` whose `occurred_at` lies inside the request's window
(`not_before`..`not_after`), as a provider would. Outcomes are seeded per attempt (the same attempt
always gets the same answer) and realistic by channel. Some right-party calls end in a promise to
pay or an arrangement (a plan of 2 to 6 monthly installments, or a settlement at 50 to 80 % of the
statement balance), and the customer then pays, or does not, by a seeded propensity: those payments
are handed to the portfolio (`take_payments`) so that the lender publishes them on their dates.

What it knows of an account it learns from the events it is shown (`observe`): the timezone from
`account.*`, statement balances from `payment.due`, unpaid dues from `ledger.balance_changed`.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collections_platform.simulation.calendar import add_months, next_business_day, previous_business_day

# Outcome weights by channel (delivery reports for messages; dialer dispositions for calls).
OUTCOMES: dict[str, tuple[tuple[str, int], ...]] = {
    "sms": (("delivered", 93), ("failed", 5), ("expired", 2)),
    "email": (("delivered", 89), ("failed", 9), ("expired", 2)),
    "push": (("delivered", 80), ("failed", 14), ("expired", 6)),
    "letter": (("delivered", 96), ("failed", 4)),
    "call": (
        ("no_answer", 42),
        ("voicemail", 22),
        ("busy", 6),
        ("answered_rpc", 20),
        ("answered_third_party", 6),
        ("wrong_number", 4),
    ),
}
PROVIDERS = {"sms": "sms-gateway", "email": "email", "push": "push", "call": "dialer", "letter": "letters"}


@dataclass(frozen=True)
class PlannedPayment:
    """A payment the customer will make on business date `on` (handed to the portfolio)."""

    account_id: str
    on: date
    amount_minor: int


@dataclass
class _Known:
    timezone: str = "UTC"
    statements: list[tuple[date, int]] = field(default_factory=list)  # (due_date, statement balance)
    unpaid: list[tuple[date, int]] = field(default_factory=list)  # (due_date, unpaid_minor), from the ledger
    pending: list[tuple[str, PlannedPayment]] = field(default_factory=list)  # (kind, payment)


class ChannelSimulator:
    """Answers contact requests as the providers would; seeded, so a run is reproducible.

    `propensity(account_id)` is the customer's likelihood (0..1) of keeping a promise or plan.
    """

    def __init__(self, seed: int, propensity: Callable[[str], float] | None = None) -> None:
        self.seed = seed
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:collections-simulation:{seed}:channels")
        self._propensity = propensity or (lambda _account: 0.5)
        self._accounts: dict[str, _Known] = {}

    # ---- what it is shown -------------------------------------------------------------------

    def observe(self, event: dict[str, Any]) -> None:
        """Learn from one event (structured mode), inbound or published by the platform."""
        kind, data = event["type"], event["data"]
        account_id = data.get("account_id")
        if not isinstance(account_id, str):
            return
        known = self._accounts.setdefault(account_id, _Known())
        if kind in ("account.opened", "account.contacts_updated") and data.get("timezone"):
            known.timezone = data["timezone"]
        elif kind == "payment.due":
            known.statements.append((date.fromisoformat(data["due_date"]), data["statement_balance_minor"]))
        elif kind == "ledger.balance_changed":
            known.unpaid = [(date.fromisoformat(d["due_date"]), d["unpaid_minor"]) for d in data["unpaid_dues"]]
        elif kind == "outreach.arrangement_declined":
            known.pending = [p for p in known.pending if p[0] != "arrangement"]

    def take_payments(self) -> list[PlannedPayment]:
        """Payments agreed since the last call (declined arrangements dropped), in a stable order."""
        out: list[PlannedPayment] = []
        for account_id in sorted(self._accounts):
            known = self._accounts[account_id]
            out.extend(p for _, p in known.pending)
            known.pending = []
        return out

    # ---- answering ----------------------------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The result(s) of one `outreach.contact_requested` (structured mode).

        Usually one result for the attempt; a delivered reminder sometimes makes the customer call
        back (a second result with `attempt_id` null, a contact the customer started).
        """
        data = request["data"]
        attempt_id, account_id, channel = data["attempt_id"], data["account_id"], data["channel"]
        rng = random.Random(f"{self.seed}:attempt:{attempt_id}")
        known = self._accounts.setdefault(account_id, _Known())
        outcome = self._outcome(rng, account_id, channel)
        occurred = _inside(rng, data["not_before"], data["not_after"])
        body: dict[str, Any] = {
            "account_id": account_id,
            "attempt_id": attempt_id,
            "channel": channel,
            "outcome": outcome,
            "occurred_at": _rfc3339(occurred),
        }
        local_day = occurred.astimezone(ZoneInfo(known.timezone)).date()
        if outcome == "answered_rpc":
            body.update(self._negotiate(rng, account_id, known, local_day))
        results = [self._result(f"result:{attempt_id}", channel, body)]
        if outcome == "delivered" and channel in ("sms", "email", "push") and rng.random() < 0.03:
            later = min(occurred + timedelta(minutes=rng.randrange(5, 120)), _parse(data["not_after"]))
            callback: dict[str, Any] = {
                "account_id": account_id,
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": _rfc3339(later),
            }
            callback.update(self._negotiate(rng, account_id, known, local_day, promise_only=True))
            results.append(self._result(f"callback:{attempt_id}", "call", callback))
        return results

    def _outcome(self, rng: random.Random, account_id: str, channel: str) -> str:
        weights = OUTCOMES[channel]
        if channel == "call":
            # Some customers are hard to reach: their calls mostly go unanswered.
            reach = random.Random(f"{self.seed}:reach:{account_id}").random()
            if reach < 0.05:
                return "wrong_number"
            if reach < 0.25:
                weights = tuple((o, w * 3 if o in ("no_answer", "voicemail") else w) for o, w in weights)
        return rng.choices([o for o, _ in weights], weights=[w for _, w in weights])[0]

    def _negotiate(
        self, rng: random.Random, account_id: str, known: _Known, day: date, *, promise_only: bool = False
    ) -> dict[str, Any]:
        """What a right-party contact agreed: a promise, an arrangement, or nothing."""
        past_due = sum(amount for due_date, amount in known.unpaid if due_date < day)
        if past_due <= 0:
            return {}
        keeps = rng.random() < self._propensity(account_id)
        roll = rng.random()
        if promise_only or roll < 0.38:
            return self._promise(rng, account_id, known, day, past_due, keeps)
        if roll < 0.55:
            return self._arrangement(rng, account_id, known, day, past_due, keeps)
        return {}

    def _promise(
        self, rng: random.Random, account_id: str, known: _Known, day: date, past_due: int, keeps: bool
    ) -> dict[str, Any]:
        amount = past_due if rng.random() < 0.7 else max(100, round(past_due * rng.uniform(0.4, 0.9)))
        promised_on = max(day, previous_business_day(day + timedelta(days=rng.randrange(2, 11))))
        if keeps:
            pay_on = max(day, previous_business_day(promised_on - timedelta(days=rng.randrange(0, 4))))
            known.pending.append(("promise", PlannedPayment(account_id, pay_on, amount)))
        elif rng.random() < 0.3:
            known.pending.append(("promise", PlannedPayment(account_id, promised_on, amount // 2)))
        return {"promise": {"amount_minor": amount, "promised_on": promised_on.isoformat()}}

    def _arrangement(
        self, rng: random.Random, account_id: str, known: _Known, day: date, past_due: int, keeps: bool
    ) -> dict[str, Any]:
        statements = [balance for due_date, balance in sorted(known.statements) if due_date <= day]
        if statements and rng.random() < 0.3:
            kind = "settlement"
            total = math.ceil(statements[-1] * rng.uniform(0.5, 0.8))
            count = rng.randrange(1, 4)
        else:
            kind = "plan"
            total = sum(amount for _, amount in known.unpaid)
            count = rng.randrange(2, 7)
        total = max(total, count)
        first = next_business_day(day + timedelta(days=rng.randrange(3, 15)))
        dates = [first] + [next_business_day(add_months(first, i, first.day)) for i in range(1, count)]
        amounts = [total // count] * count
        amounts[0] += total - sum(amounts)
        installments = [{"due_on": d.isoformat(), "amount_minor": a} for d, a in zip(dates, amounts, strict=True)]
        paid_through = count if keeps else rng.randrange(0, count)
        for due_on, amount in list(zip(dates, amounts, strict=True))[:paid_through]:
            pay_on = max(day, previous_business_day(due_on - timedelta(days=rng.randrange(0, 3))))
            known.pending.append(("arrangement", PlannedPayment(account_id, pay_on, amount)))
        return {"arrangement": {"kind": kind, "installments": installments}}

    def _result(self, key: str, channel: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid5(self._namespace, key)),
            "source": f"channels/{PROVIDERS[channel]}",
            "type": "contact.result_reported",
            "subject": data["account_id"],
            "time": data["occurred_at"],
            "datacontenttype": "application/json",
            "data": data,
        }


def _parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def _inside(rng: random.Random, not_before: str, not_after: str) -> datetime:
    """A whole-second UTC instant in [not_before, not_after] (the window's start if it has none)."""
    start, end = _parse(not_before), _parse(not_after)
    first, last = math.ceil(start.timestamp()), math.floor(end.timestamp())
    if last < first:
        return start.astimezone(UTC)
    return datetime.fromtimestamp(rng.randint(first, last), UTC)


def _rfc3339(instant: datetime) -> str:
    instant = instant.astimezone(UTC)
    if instant.microsecond:
        return instant.isoformat().replace("+00:00", "Z")
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
