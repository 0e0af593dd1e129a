"""A seeded lender portfolio: the inbound events a lender would publish, business day by business day.

Deterministic: the same settings (seed included) give the same events, ids included; there is no
clock, no I/O and no global random state. Each account draws from its own `random.Random` seeded by
`(seed, account)`, so an account's story does not depend on how many others there are.

Within each business date the events come in the order a lender publishes them: the account events
of the date (`account.*`), then billing (`payment.due`), then payments (`payment.received`,
`payment.reversed`); `day.closed` for the date follows (contract.md, inbound types).

Simplifications (documented in the README): business dates are Monday to Friday with no holidays;
`statement_balance_minor` is what the account owes on everything billed so far (the simulated lender
bills only what is due: a card's minimum payments accumulate, a loan's installments); a due's
statement is published 21 days before its due date.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from collections_platform.simulation.calendar import (
    add_months,
    business_days,
    next_business_day,
    previous_business_day,
)
from collections_platform.simulation.people import Customer, draw_consents, draw_customer, fiction_phone

STATEMENT_LEAD_DAYS = 21
_TOPIC_ORDER = {"accounts": 0, "billing": 1, "payments": 2}
_TYPE_TOPIC = {
    "account.opened": "accounts",
    "account.contacts_updated": "accounts",
    "account.flag_set": "accounts",
    "account.flag_cleared": "accounts",
    "payment.due": "billing",
    "payment.received": "payments",
    "payment.reversed": "payments",
}
_FLAG_REASONS = {
    "dispute": "customer disputes the amount billed",
    "cease_and_desist": "written request to stop contact received",
    "bankruptcy": "bankruptcy notice received from the court",
    "deceased": "notice of death received from the estate",
    "hardship": "customer reported a financial hardship",
}


@dataclass(frozen=True)
class PortfolioSettings:
    """How big the book is and how long the run: `days` business days from `start`."""

    seed: int = 7
    accounts: int = 2000
    days: int = 180
    start: date = date(2026, 1, 5)


@dataclass
class _Account:
    index: int
    account_id: str
    customer: Customer
    product: str
    base_minor: int
    due_day: int
    open_day: date
    opened_on: date
    rng: random.Random
    first_due: date
    shock_at: int | None = None
    recover_at: int | None = None
    dues: list[tuple[str, date, int]] = field(default_factory=list)
    paid: dict[str, int] = field(default_factory=dict)
    payments_made: int = 0
    waived_minor: int = 0
    stopped: bool = False
    in_arrangement: bool = False

    def owed(self, as_of: date | None = None) -> int:
        """What is unpaid of the dues due on or before `as_of` (all billed dues when None)."""
        billed = sum(a for _, due_date, a in self.dues if as_of is None or due_date <= as_of)
        return billed - sum(self.paid.values()) - self.waived_minor

    def next_payment_id(self) -> str:
        self.payments_made += 1
        return f"{self.account_id}-p{self.payments_made:03d}"


@dataclass(order=True, frozen=True)
class _Action:
    account: int
    seq: int
    kind: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())


class Portfolio:
    """The lender's book as a day-by-day simulation.

    Call `events_on(day)` for each of `days` in order, then `day_closed(day)`. Between days, a
    channel simulator may add payments the customer agreed on the phone (`schedule_payment`) and
    report waivers the platform posted (`note_waiver`), so later payments do not overpay.
    """

    def __init__(self, settings: PortfolioSettings) -> None:
        self.settings = settings
        self.days = business_days(settings.start, settings.days)
        self._last = self.days[-1]
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:collections-simulation:{settings.seed}")
        self._agenda: dict[date, list[_Action]] = {}
        self._seq = 0
        self.accounts: dict[str, _Account] = {}
        for index in range(settings.accounts):
            account = self._draw_account(index)
            self.accounts[account.account_id] = account
            self._plan_account(account)

    # ---- what the runner and the channel simulator call -------------------------------------

    def events_on(self, day: date) -> list[dict[str, Any]]:
        """The lender's inbound events of business date `day` (structured-mode CloudEvents)."""
        out: list[tuple[int, int, dict[str, Any]]] = []
        for action in sorted(self._agenda.pop(day, [])):
            account = self._by_index(action.account)
            for event in self._perform(account, day, action):
                out.append((_TOPIC_ORDER[_TYPE_TOPIC[event["type"]]], len(out), event))
        return [event for _, _, event in sorted(out, key=lambda row: (row[0], row[1]))]

    def day_closed(self, day: date) -> dict[str, Any]:
        """`day.closed` for `day`, published after the lender's posting cut-off (23:30 UTC)."""
        return self._envelope(
            "day.closed",
            "clock",
            f"{day.isoformat()}T23:30:00Z",
            {"as_of": day.isoformat()},
            key=day.isoformat(),
            source="lender/end-of-day",
        )

    def schedule_payment(self, account_id: str, on: date, amount_minor: int) -> str | None:
        """A payment of `amount_minor` the customer makes on business date `on` (or the next one).

        Returns the payment id, or None when `on` falls after the simulated period.
        """
        account = self.accounts[account_id]
        day = next_business_day(on)
        if day > self._last or amount_minor <= 0:
            return None
        payment_id = account.next_payment_id()
        self._schedule(account, day, "pay_exact", payment_id, amount_minor)
        return payment_id

    def note_waiver(self, account_id: str, amount_minor: int) -> None:
        """The platform forgave `amount_minor` of this account's dues (a completed settlement)."""
        if account_id in self.accounts:
            self.accounts[account_id].waived_minor += amount_minor

    def note_arrangement(self, account_id: str, active: bool) -> None:
        """An arrangement was made (`active`) or ended: while one runs, the customer's installments
        (scheduled by the channel simulator) replace their own catching up on arrears; dues that
        fall due meanwhile are paid as their profile pays them."""
        if account_id in self.accounts:
            self.accounts[account_id].in_arrangement = active

    def customer(self, account_id: str) -> Customer:
        """The (hidden) customer behind an account: the channel simulator reads their propensity."""
        return self.accounts[account_id].customer

    def is_business_day_in_run(self, day: date) -> bool:
        """True when `day` is one of the simulated business dates."""
        return self.days[0] <= day <= self._last and day.weekday() < 5

    # ---- drawing accounts ---------------------------------------------------------------------

    def _draw_account(self, index: int) -> _Account:
        rng = random.Random(f"{self.settings.seed}:account:{index}")
        customer = draw_customer(rng, index)
        product = "credit_card" if rng.random() < 0.62 else "loan"
        scale = 7 if customer.currency == "CNY" else 1
        if product == "credit_card":
            base = rng.randrange(25, 300) * 100 * scale
        else:
            base = rng.randrange(150, 1200) * 100 * scale
        if rng.random() < 0.9:
            open_day = self.days[0]
            opened_on = self.days[0] - timedelta(days=rng.randrange(30, 2000))
            earliest_due = self.days[0] + timedelta(days=10)
        else:
            # A later opening; with a one-day run there is no later day (the draw stays, so every
            # longer run's portfolio is unchanged).
            open_day = self.days[min(len(self.days) - 1, rng.randrange(1, max(2, int(len(self.days) * 0.6))))]
            opened_on = open_day
            earliest_due = open_day + timedelta(days=25)
        due_day = rng.randrange(1, 29)
        first_due = date(earliest_due.year, earliest_due.month, due_day)
        if first_due < earliest_due:
            first_due = add_months(first_due, 1, due_day)
        account = _Account(
            index=index,
            account_id=f"acc-{index:05d}",
            customer=customer,
            product=product,
            base_minor=base,
            due_day=due_day,
            open_day=open_day,
            opened_on=opened_on,
            rng=rng,
            first_due=first_due,
        )
        if customer.profile == "shock":
            account.shock_at = rng.randrange(0, 6)
            account.recover_at = account.shock_at + rng.randrange(2, 6) if rng.random() < 0.55 else None
        return account

    def _plan_account(self, account: _Account) -> None:
        rng = account.rng
        self._schedule(account, account.open_day, "open")
        k = 0
        while True:
            due_date = add_months(account.first_due, k, account.due_day)
            statement = next_business_day(max(account.open_day, due_date - timedelta(days=STATEMENT_LEAD_DAYS)))
            if statement > self._last:
                break
            self._schedule(account, statement, "due", k, due_date)
            k += 1
        risky = 2.0 if account.customer.profile in ("never", "shock", "late") else 1.0
        span = len(self.days)
        start = max(self.days.index(account.open_day), int(span * 0.08))

        def some_day(lo: float, hi: float) -> date:
            low = max(start, int(span * lo))
            return self.days[rng.randrange(low, max(low + 1, int(span * hi)))]

        if rng.random() < 0.04 * risky:
            on = some_day(0.1, 0.8)
            self._schedule(account, on, "flag_set", "dispute")
            if rng.random() < 0.8:
                self._schedule(account, on + timedelta(days=rng.randrange(7, 35)), "flag_cleared", "dispute")
        if rng.random() < 0.025:
            on = some_day(0.1, 0.8)
            self._schedule(account, on, "flag_set", "hardship")
            self._schedule(account, on + timedelta(days=rng.randrange(28, 90)), "flag_cleared", "hardship")
        if rng.random() < 0.01 * risky:
            self._schedule(account, some_day(0.2, 0.9), "flag_set", "cease_and_desist")
        if rng.random() < 0.012 * risky:
            self._schedule(account, some_day(0.15, 0.9), "flag_set", "bankruptcy")
        if rng.random() < 0.005:
            self._schedule(account, some_day(0.15, 0.9), "flag_set", "deceased")
        if rng.random() < 0.04:
            self._schedule(account, some_day(0.05, 0.9), "contacts")

    def _schedule(self, account: _Account, on: date, kind: str, *args: Any) -> None:
        day = next_business_day(on)
        if day > self._last:
            return
        self._seq += 1
        self._agenda.setdefault(day, []).append(_Action(account.index, self._seq, kind, args))

    def _by_index(self, index: int) -> _Account:
        return self.accounts[f"acc-{index:05d}"]

    # ---- performing one day's actions ---------------------------------------------------------

    def _perform(self, account: _Account, day: date, action: _Action) -> list[dict[str, Any]]:
        kind, args = action.kind, action.args
        if kind == "open":
            return [self._opened(account, day)]
        if kind == "due":
            return [self._issue_due(account, day, args[0], args[1])]
        if kind == "pay_upto":
            payment_id, as_of, amount = args
            owed = account.owed(as_of)
            if account.stopped or owed <= 0:
                return []
            return [self._payment(account, day, payment_id, min(amount, owed))]
        if kind == "pay_owed":
            payment_id = args[0]
            owed = account.owed(day)
            if account.stopped or account.in_arrangement or owed <= 0:
                return []
            return [self._payment(account, day, payment_id, owed)]
        if kind == "pay_exact":
            return [self._payment(account, day, args[0], args[1])]
        if kind == "reverse":
            return self._reverse(account, day, args[0])
        if kind in ("flag_set", "flag_cleared"):
            if kind == "flag_set" and args[0] in ("bankruptcy", "deceased"):
                account.stopped = True
            return [self._flag(account, day, kind, args[0])]
        if kind == "contacts":
            return [self._contacts_updated(account, day)]
        raise ValueError(f"unknown action {kind}")

    def _issue_due(self, account: _Account, day: date, k: int, due_date: date) -> dict[str, Any]:
        rng = account.rng
        if account.product == "credit_card":
            amount = round(account.base_minor * rng.uniform(0.7, 1.3) / 100) * 100
        else:
            amount = account.base_minor
        due_id = f"{account.account_id}-d{k + 1:02d}"
        account.dues.append((due_id, due_date, amount))
        balance = max(amount, account.owed())
        self._decide_payments(account, day, k, due_date, amount)
        return self._envelope(
            "payment.due",
            account.account_id,
            self._time(day, 14, account.index),
            {
                "account_id": account.account_id,
                "due_id": due_id,
                "due_date": due_date.isoformat(),
                "amount_due_minor": amount,
                "statement_balance_minor": balance,
            },
            key=due_id,
            source="lender/billing",
        )

    def _decide_payments(self, account: _Account, statement: date, k: int, due_date: date, amount: int) -> None:
        """How the customer answers this due: the month's mode follows their profile."""
        rng = account.rng
        mode = account.customer.profile
        if mode == "on_time" and rng.random() < 0.03:
            mode = "late"
        if mode == "shock":
            assert account.shock_at is not None
            if k < account.shock_at:
                mode = "on_time"
            elif account.recover_at is None or k < account.recover_at:
                mode = "never"
            elif k == account.recover_at:
                mode = "catch_up"
            else:
                mode = "on_time"
        on_time = max(statement, previous_business_day(due_date - timedelta(days=rng.randrange(0, 8))))
        if mode == "on_time":
            self._schedule(account, on_time, "pay_upto", account.next_payment_id(), due_date, amount)
        elif mode == "late":
            self._schedule(
                account, due_date + timedelta(days=rng.randrange(3, 31)), "pay_owed", account.next_payment_id()
            )
        elif mode == "catch_up":
            self._schedule(
                account, due_date + timedelta(days=rng.randrange(0, 11)), "pay_owed", account.next_payment_id()
            )
        elif mode == "partial":
            part = max(100, round(amount * rng.uniform(0.3, 0.7) / 100) * 100)
            self._schedule(account, on_time, "pay_upto", account.next_payment_id(), due_date, part)
            if rng.random() < 0.3:
                later = due_date + timedelta(days=rng.randrange(15, 46))
                self._schedule(account, later, "pay_owed", account.next_payment_id())
        elif mode == "bouncer":
            payment_id = account.next_payment_id()
            self._schedule(account, on_time, "pay_upto", payment_id, due_date, amount)
            if rng.random() < 0.45:
                bounced = on_time + timedelta(days=rng.randrange(2, 6))
                self._schedule(account, bounced, "reverse", payment_id)
                if rng.random() < 0.55:
                    again = bounced + timedelta(days=rng.randrange(5, 21))
                    self._schedule(account, again, "pay_owed", account.next_payment_id())
        # "never": nothing of their own accord.

    def _payment(self, account: _Account, day: date, payment_id: str, amount: int) -> dict[str, Any]:
        account.paid[payment_id] = amount
        return self._envelope(
            "payment.received",
            account.account_id,
            self._time(day, 15, account.index),
            {
                "account_id": account.account_id,
                "payment_id": payment_id,
                "amount_minor": amount,
                "received_on": day.isoformat(),
            },
            key=payment_id,
            source="lender/payments",
        )

    def _reverse(self, account: _Account, day: date, payment_id: str) -> list[dict[str, Any]]:
        if account.paid.pop(payment_id, None) is None:
            return []
        return [
            self._envelope(
                "payment.reversed",
                account.account_id,
                self._time(day, 16, account.index),
                {"account_id": account.account_id, "payment_id": payment_id, "reason": "nsf"},
                key=f"{payment_id}:reversed",
                source="lender/payments",
            )
        ]

    def _opened(self, account: _Account, day: date) -> dict[str, Any]:
        c = account.customer
        return self._envelope(
            "account.opened",
            account.account_id,
            self._time(day, 13, account.index),
            {
                "account_id": account.account_id,
                "customer_id": f"cus-{account.index:05d}",
                "product": account.product,
                "currency": c.currency,
                "opened_on": account.opened_on.isoformat(),
                "timezone": c.timezone,
                "locale": c.locale,
                "contacts": c.contacts,
                "consents": c.consents,
            },
            key=f"{account.account_id}:opened",
            source="lender/accounts",
        )

    def _flag(self, account: _Account, day: date, kind: str, flag: str) -> dict[str, Any]:
        type_name = "account.flag_set" if kind == "flag_set" else "account.flag_cleared"
        reason = _FLAG_REASONS[flag] if kind == "flag_set" else f"{flag} resolved"
        return self._envelope(
            type_name,
            account.account_id,
            self._time(day, 13, account.index),
            {"account_id": account.account_id, "flag": flag, "reason": reason},
            key=f"{account.account_id}:{type_name}:{flag}:{day.isoformat()}",
            source="lender/accounts",
        )

    def _contacts_updated(self, account: _Account, day: date) -> dict[str, Any]:
        rng = account.rng
        contacts = dict(account.customer.contacts)
        contacts["phones"] = [{"number": fiction_phone(rng), "kind": "mobile"}]
        return self._envelope(
            "account.contacts_updated",
            account.account_id,
            self._time(day, 13, account.index),
            {"account_id": account.account_id, "contacts": contacts, "consents": draw_consents(rng)},
            key=f"{account.account_id}:contacts:{day.isoformat()}",
            source="lender/accounts",
        )

    # ---- envelopes ----------------------------------------------------------------------------

    @staticmethod
    def _time(day: date, hour: int, index: int) -> str:
        return f"{day.isoformat()}T{hour:02d}:{(index // 60) % 60:02d}:{index % 60:02d}Z"

    def _envelope(
        self, type_name: str, subject: str, time: str, data: dict[str, Any], *, key: str, source: str
    ) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid5(self._namespace, f"{type_name}\x1f{key}")),
            "source": source,
            "type": type_name,
            "subject": subject,
            "time": time,
            "datacontenttype": "application/json",
            "data": data,
        }


def generate_events(settings: PortfolioSettings) -> Iterator[dict[str, Any]]:
    """Every inbound event of the portfolio with no channel feedback: a replay input, in order."""
    portfolio = Portfolio(settings)
    for day in portfolio.days:
        yield from portfolio.events_on(day)
        yield portfolio.day_closed(day)
