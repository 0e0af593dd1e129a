"""The seeded portfolio: deterministic, contract-valid, in a lender's publishing order, fictional contacts."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest

from collections_events.validation import Event, read_structured
from collections_platform.simulation.portfolio import Portfolio, PortfolioSettings, generate_events

SETTINGS = PortfolioSettings(seed=11, accounts=300, days=70)
TOPIC_RANK = {"account": 0, "payment.due": 1, "payment.received": 2, "payment.reversed": 2}


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return list(generate_events(SETTINGS))


def test_same_seed_same_events_other_seed_other_events(events: list[dict]) -> None:
    assert list(generate_events(SETTINGS)) == events
    other = list(generate_events(PortfolioSettings(seed=12, accounts=300, days=70)))
    assert other != events


def test_every_event_is_contract_valid_inbound(events: list[dict]) -> None:
    for raw in events:
        parsed = read_structured(raw, inbound_only=True)
        assert isinstance(parsed, Event), (raw["type"], getattr(parsed, "reason", None))
    assert len({e["id"] for e in events}) == len(events)


def test_each_business_date_ends_with_its_close_in_publishing_order(events: list[dict]) -> None:
    closes = [e for e in events if e["type"] == "day.closed"]
    assert len(closes) == SETTINGS.days
    assert all(date.fromisoformat(c["data"]["as_of"]).weekday() < 5 for c in closes)
    day_events: list[dict] = []
    for event in events:
        if event["type"] != "day.closed":
            day_events.append(event)
            continue
        as_of = event["data"]["as_of"]
        assert all(e["time"].startswith(as_of) for e in day_events)
        ranks = [TOPIC_RANK.get(e["type"], TOPIC_RANK["account"]) for e in day_events]
        assert ranks == sorted(ranks), f"accounts, billing, payments order broken on {as_of}"
        day_events = []
    assert day_events == []


def test_the_book_has_every_kind_of_customer(events: list[dict]) -> None:
    kinds = Counter(e["type"] for e in events)
    assert kinds["account.opened"] == SETTINGS.accounts
    for kind in ("payment.due", "payment.received", "payment.reversed", "account.flag_set", "account.flag_cleared"):
        assert kinds[kind] > 0, kind
    flags = {e["data"]["flag"] for e in events if e["type"] == "account.flag_set"}
    assert {"dispute", "bankruptcy"} <= flags
    opened = [e["data"] for e in events if e["type"] == "account.opened"]
    zones = {o["timezone"] for o in opened}
    assert {"America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Shanghai"} <= zones
    assert {o["product"] for o in opened} == {"credit_card", "loan"}
    assert {o["currency"] for o in opened} == {"USD", "CNY"}
    consents = [tuple(o["consents"].values()) for o in opened]
    assert len(set(consents)) > 4, "consents should be mixed"


def test_contacts_are_fiction(events: list[dict]) -> None:
    fiction = re.compile(r"^\+1\d{3}55501\d{2}$")
    for event in events:
        contacts = event["data"].get("contacts")
        if not contacts:
            continue
        assert all(fiction.match(p["number"]) for p in contacts["phones"])
        assert all(e.endswith("@example.com") for e in contacts["emails"])


def test_reversals_follow_their_payment_and_dues_follow_the_opening(events: list[dict]) -> None:
    received: set[str] = set()
    opened: set[str] = set()
    for event in events:
        data = event["data"]
        if event["type"] == "account.opened":
            opened.add(data["account_id"])
        elif event["type"] == "payment.received":
            received.add(data["payment_id"])
        elif event["type"] == "payment.reversed":
            assert data["payment_id"] in received
            assert data["reason"] == "nsf"
        if event["type"] != "day.closed":
            assert data["account_id"] in opened


def test_scheduled_payments_are_published_on_their_business_date() -> None:
    portfolio = Portfolio(PortfolioSettings(seed=3, accounts=5, days=10))
    saturday = date(2026, 1, 10)
    payment_id = portfolio.schedule_payment("acc-00001", saturday, 12345)
    assert payment_id is not None
    assert portfolio.schedule_payment("acc-00001", date(2027, 1, 1), 100) is None
    for day in portfolio.days:
        events = portfolio.events_on(day)
        mine = [e for e in events if e["data"].get("payment_id") == payment_id]
        if day == date(2026, 1, 12):
            assert [e["data"]["amount_minor"] for e in mine] == [12345]
            assert mine[0]["data"]["received_on"] == "2026-01-12"
        else:
            assert mine == []


def test_an_arrangement_replaces_the_customers_own_catching_up() -> None:
    settings = PortfolioSettings(seed=11, accounts=200, days=80)
    free = [e for e in generate_events(settings) if e["type"] == "payment.received"]
    bound = Portfolio(settings)
    for account_id in bound.accounts:
        bound.note_arrangement(account_id, True)
    paid = [e for day in bound.days for e in bound.events_on(day) if e["type"] == "payment.received"]
    assert 0 < len(paid) < len(free)
