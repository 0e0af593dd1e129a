"""Fictional customers: where they live, how to reach them, what they consented to, how they pay.

Every contact detail is fiction by construction: phone numbers are North American `NXX-555-01xx`
numbers (the range reserved for fiction), emails are `@example.com` (RFC 2606), addresses are made up.
Chinese customers get the same fiction numbers, since no range of +86 is reserved for fiction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# (timezone, locale, currency, weight): most customers in the US, a sizeable book in China.
REGIONS: tuple[tuple[str, str, str, int], ...] = (
    ("America/New_York", "en-US", "USD", 26),
    ("America/Chicago", "en-US", "USD", 16),
    ("America/Denver", "en-US", "USD", 7),
    ("America/Phoenix", "en-US", "USD", 3),
    ("America/Los_Angeles", "es-US", "USD", 14),
    ("America/Anchorage", "en-US", "USD", 1),
    ("Pacific/Honolulu", "en-US", "USD", 1),
    ("Asia/Shanghai", "zh-CN", "CNY", 28),
    ("Asia/Urumqi", "zh-CN", "CNY", 4),
)
AREA_CODES = ("212", "312", "303", "602", "213", "907", "808", "415", "646", "718")
GIVEN = ("alex", "sam", "jordan", "casey", "riley", "wei", "li", "min", "jun", "maria", "jose", "taylor")

# Payment behaviour profiles and their shares of the book (behaviour.md, The flow).
PROFILES: tuple[tuple[str, int], ...] = (
    ("on_time", 66),  # pays each due by its due date (3 % of months a little late)
    ("late", 10),  # pays what is owed 3 to 30 days after the due date
    ("partial", 6),  # pays part of each due, sometimes catches up
    ("never", 4),  # never pays on their own
    ("bouncer", 4),  # pays, but a good share of payments bounce (nsf)
    ("shock", 10),  # pays on time until a life event, then stops; many recover
)


@dataclass(frozen=True)
class Customer:
    """What account.opened says of a customer, and the hidden behaviour the simulation gives them."""

    timezone: str
    locale: str
    currency: str
    contacts: dict[str, Any]
    consents: dict[str, bool]
    profile: str
    promise_keeping: float  # 0..1: how likely they keep a promise or an arrangement (channels.py)


def pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    """One row of `weighted`, chosen with the weight in its last column."""
    return rng.choices(weighted, weights=[row[-1] for row in weighted])[0]


def fiction_phone(rng: random.Random) -> str:
    """An E.164 number in a fiction range: +1 NXX 555 01xx."""
    return f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"


def draw_contacts(rng: random.Random, index: int) -> dict[str, Any]:
    """Phones, emails and a postal address; some customers have no mobile or no email at all."""
    phones: list[dict[str, str]] = []
    if rng.random() < 0.93:
        phones.append({"number": fiction_phone(rng), "kind": "mobile"})
    if rng.random() < 0.25:
        phones.append({"number": fiction_phone(rng), "kind": rng.choice(["home", "work"])})
    emails = [f"{rng.choice(GIVEN)}.{index:05d}@example.com"] if rng.random() < 0.88 else []
    address = f"{rng.randrange(1, 999)} Example Street, Springfield" if rng.random() < 0.97 else None
    return {"phones": phones, "emails": emails, "postal_address": address}


def draw_consents(rng: random.Random) -> dict[str, bool]:
    """Mixed consents: most allow SMS and email, fewer push and autodialed calls."""
    return {
        "sms": rng.random() < 0.82,
        "email": rng.random() < 0.87,
        "push": rng.random() < 0.6,
        "autodialed_calls": rng.random() < 0.72,
    }


def draw_customer(rng: random.Random, index: int) -> Customer:
    """A customer: region, contacts, consents, behaviour profile and promise-keeping propensity."""
    timezone, locale, currency, _ = pick(rng, REGIONS)
    profile = pick(rng, PROFILES)[0]
    keeping = {"on_time": 0.8, "late": 0.6, "partial": 0.5, "never": 0.2, "bouncer": 0.35, "shock": 0.55}[profile]
    return Customer(
        timezone=timezone,
        locale=locale,
        currency=currency,
        contacts=draw_contacts(rng, index),
        consents=draw_consents(rng),
        profile=profile,
        promise_keeping=min(1.0, max(0.0, rng.gauss(keeping, 0.15))),
    )
