"""A seeded random portfolio that exercises behaviour.md's clarified rules, for the whole-run check.

The portfolio simulation (collections_platform.simulation) models a lender's ordinary book; this one
leans on the corners the clarifications name (issue 15): payments repeated with the same and with
another amount, reversals, reversals of reversed payments, re-presented payments, reversals of
payments never received, phones of every kind in every order (and none), timezone changes right
after right-party contacts in zones a day apart, promises, plans and settlements.

Every input line gets its own `time` (the day, plus two seconds per line), so each published
event, whose `time` is that of the inbound event that caused it (contract.md), names the input line
at the root of its cause: the checks use that to know what the platform knew when it decided.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

START = date(2026, 1, 5)
# Zones a day apart (UTC+14 and UTC-11), so a timezone change moves a local date.
ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York", "Asia/Shanghai", "Europe/London")
PHONE_PATTERNS = (
    (),
    ("mobile",),
    ("home",),
    ("work",),
    ("home", "work"),
    ("work", "home"),
    ("home", "mobile"),
    ("work", "mobile", "home"),
    ("mobile", "home", "work"),
)
NAMESPACE = uuid.UUID("6b1f0c1e-3d0f-4a53-9a55-0c1a7c1a1f15")


@dataclass
class _Account:
    account_id: str
    behaviour: str
    first_due: int
    dues: int = 0
    payments: int = 0
    unpaid: list[tuple[date, int]] = field(default_factory=list)  # (due_date, amount) the customer owes


def generate(accounts: int, days: int, seed: int) -> list[dict[str, Any]]:
    """The input lines (structured-mode envelopes, in file order) of `accounts` over `days` business days."""
    rng = random.Random(seed)
    people = [
        _Account(f"acc-{n:05d}", rng.choice(("prompt", "prompt", "late", "late", "never")), rng.randrange(30))
        for n in range(accounts)
    ]
    scheduled: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    lines: list[dict[str, Any]] = []

    def later(day: int, kind: str, data: dict[str, Any]) -> None:
        scheduled.setdefault(day, []).append((kind, data))

    opening = [("account.opened", _opened(a, rng)) for a in people]
    for day in range(days):
        on = START + timedelta(days=day)
        todays: list[tuple[str, dict[str, Any]]] = opening if day == 0 else []
        for person in people:
            todays.extend(_account_day(person, day, on, rng, later))
        todays.extend(scheduled.pop(day, []))
        rng.shuffle(todays)
        todays.sort(key=lambda item: item[0] != "account.opened")  # a day's openings come first
        for second, (kind, data) in enumerate(todays):
            lines.append(_envelope(kind, data, on, 2 * second + 2, seed))
        lines.append(_envelope("day.closed", {"as_of": on.isoformat()}, on, 86_398, seed))
    return lines


Line = tuple[str, dict[str, Any]]


def _account_day(person: _Account, day: int, on: date, rng: random.Random, later: Any) -> list[Line]:
    out: list[Line] = []
    acc = person.account_id
    if day % 30 == person.first_due:
        person.dues += 1
        amount = rng.randrange(20, 400) * 100
        due_date = on + timedelta(days=20)
        due_id = f"{acc}-d{person.dues:02d}"
        out.append(
            (
                "payment.due",
                {
                    "account_id": acc,
                    "due_id": due_id,
                    "due_date": due_date.isoformat(),
                    "amount_due_minor": amount,
                    "statement_balance_minor": amount * 4,
                },
            )
        )
        person.unpaid.append((due_date, amount))
    for due_date, amount in list(person.unpaid):
        pays_on = {"prompt": due_date - timedelta(days=2), "late": due_date + timedelta(days=25)}.get(person.behaviour)
        if pays_on == on or (person.behaviour == "never" and rng.random() < 0.01):
            person.unpaid.remove((due_date, amount))
            out.append(("payment.received", _payment(person, amount if pays_on == on else amount // 2, on)))
            _corners(out[-1][1], day, rng, later)
    if rng.random() < 0.004:
        later(day + rng.randrange(3), "account.contacts_updated", _contacts_update(acc, rng))
    behind = any(due_date < on for due_date, _ in person.unpaid)
    if behind and rng.random() < 0.04:
        out.append(("contact.result_reported", _rpc_result(acc, on, rng)))
        _honour(person, out[-1][1].get("arrangement"), day, rng, later)
        if rng.random() < 0.5:  # move the customer a day away right after the call
            moved = {"account_id": acc, "timezone": rng.choice(ZONES[:2])}
            later(day + rng.randrange(2), "account.contacts_updated", moved)
    if day == 5 and rng.random() < 0.03:
        out.append(("payment.reversed", {"account_id": acc, "payment_id": f"{acc}-never", "reason": "error"}))
    return out


def _honour(person: _Account, arrangement: dict[str, Any] | None, day: int, rng: random.Random, later: Any) -> None:
    """Most customers pay what they agreed, on the installments' dates; some pay their dues off too."""
    if arrangement is None or rng.random() < 0.3:
        return
    for installment in arrangement["installments"]:
        due_on = date.fromisoformat(installment["due_on"])
        payment = _payment(person, installment["amount_minor"], due_on)
        later(day + (due_on - START - timedelta(days=day)).days, "payment.received", payment)
        _corners(payment, (due_on - START).days, rng, later)
        if rng.random() < 0.25:  # bounced after its grace: it un-meets an installment already judged met
            later(
                (due_on - START).days + 6 + rng.randrange(5),
                "payment.reversed",
                {"account_id": person.account_id, "payment_id": payment["payment_id"], "reason": "nsf"},
            )
    if rng.random() < 0.5:
        owed = sum(amount for _, amount in person.unpaid)
        person.unpaid.clear()
        if owed:
            later(day + 1, "payment.received", _payment(person, owed, START + timedelta(days=day + 1)))


def _corners(payment: dict[str, Any], day: int, rng: random.Random, later: Any) -> None:
    """Schedule the business-key corners of one payment (behaviour.md, Ledger)."""
    ref = {k: payment[k] for k in ("account_id", "payment_id")}
    if rng.random() < 0.04:
        later(day + 1 + rng.randrange(3), "payment.received", dict(payment))
    if rng.random() < 0.03:
        later(day + rng.randrange(3), "payment.received", {**payment, "amount_minor": payment["amount_minor"] + 100})
    if rng.random() < 0.10:
        back = day + 1 + rng.randrange(4)
        later(back, "payment.reversed", {**ref, "reason": rng.choice(("nsf", "chargeback", "error"))})
        if rng.random() < 0.35:
            later(back + rng.randrange(3), "payment.reversed", {**ref, "reason": "error"})
        if rng.random() < 0.5:
            other = {**payment, "amount_minor": payment["amount_minor"] // 2 + 1}
            again = dict(payment) if rng.random() < 0.7 else other
            later(back + 1 + rng.randrange(5), "payment.received", again)


def _payment(person: _Account, amount: int, on: date) -> dict[str, Any]:
    person.payments += 1
    return {
        "account_id": person.account_id,
        "payment_id": f"{person.account_id}-p{person.payments:03d}",
        "amount_minor": amount,
        "received_on": on.isoformat(),
    }


def _opened(person: _Account, rng: random.Random) -> dict[str, Any]:
    number = int(person.account_id[4:])
    return {
        "account_id": person.account_id,
        "customer_id": f"cus-{number:05d}",
        "product": rng.choice(("credit_card", "loan")),
        "currency": "USD",
        "opened_on": (START - timedelta(days=rng.randrange(30, 400))).isoformat(),
        "timezone": rng.choice(ZONES),
        "locale": "en-US",
        "contacts": _contacts(person.account_id, rng),
        "consents": _consents(rng),
    }


def _contacts(account_id: str, rng: random.Random) -> dict[str, Any]:
    number = int(account_id[4:])
    kinds = rng.choice(PHONE_PATTERNS)
    salt = rng.randrange(10)
    return {
        "phones": [{"number": f"+1555{number:05d}{salt}{i}", "kind": kind} for i, kind in enumerate(kinds)],
        "emails": [f"c{number}.{salt}.{i}@example.com" for i in range(rng.choice((0, 1, 1, 2)))],
        "postal_address": None if rng.random() < 0.1 else f"{number} Example Street, Springfield",
    }


def _consents(rng: random.Random) -> dict[str, bool]:
    return {k: rng.random() < 0.9 for k in ("sms", "email", "push", "autodialed_calls")}


def _contacts_update(account_id: str, rng: random.Random) -> dict[str, Any]:
    update: dict[str, Any] = {"account_id": account_id}
    if rng.random() < 0.5:
        update["timezone"] = rng.choice(ZONES)
    if rng.random() < 0.6 or len(update) == 1:
        update["contacts"] = _contacts(account_id, rng)
    if rng.random() < 0.2:
        update["consents"] = _consents(rng)
    return update


def _rpc_result(account_id: str, on: date, rng: random.Random) -> dict[str, Any]:
    """A right-party call the customer started, at an hour that makes its local date depend on the zone."""
    at = f"{on.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
    result: dict[str, Any] = {
        "account_id": account_id,
        "attempt_id": None,
        "channel": "call",
        "outcome": "answered_rpc",
        "occurred_at": at,
    }
    pick = rng.random()
    if pick < 0.25:
        result["promise"] = {
            "amount_minor": rng.randrange(10, 60) * 100,
            "promised_on": (on + timedelta(days=rng.randrange(2, 8))).isoformat(),
        }
    elif pick < 0.5:
        first = on + timedelta(days=rng.randrange(1, 6))
        count = rng.randrange(1, 4)
        result["arrangement"] = {
            "kind": rng.choice(("plan", "settlement", "settlement")),
            "installments": [
                {"due_on": (first + timedelta(days=15 * i)).isoformat(), "amount_minor": rng.randrange(20, 200) * 100}
                for i in range(count)
            ],
        }
    return result


def _envelope(kind: str, data: dict[str, Any], on: date, second: int, seed: int) -> dict[str, Any]:
    clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    subject = "clock" if kind == "day.closed" else data["account_id"]
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(NAMESPACE, f"{seed}/{on}/{second}/{kind}")),
        "source": f"lender/{kind.split('.')[0]}",
        "type": kind,
        "subject": subject,
        "time": f"{on.isoformat()}T{clock}Z",
        "datacontenttype": "application/json",
        "data": data,
    }
