"""Field types shared by the contract's event models (contract.md, Envelope: money and dates).

Money is an integer of minor units (12540 = 125.40), never a float or a string; dates are ISO
`YYYY-MM-DD` strings; instants are RFC 3339 strings with `Z` or an offset, kept as given.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints

from collections_events.envelope import parse_instant

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


# -- limits (README, Limits): generous enough that no lender payload of today is refused, small
# enough that one field can never make an event the broker refuses (Kafka's default is 1 MB).
MAX_ID_CHARS = 200
"""The longest identifier (account, payment, due, attempt, agency ids...), in characters."""

MAX_TEXT_CHARS = 2000
"""The longest free text (a flag's reason, a postal address, a note), in characters."""

MAX_LABEL_CHARS = 200
"""The longest short label (a locale, a template, a step, a strategy, a bucket, a case state)."""

MAX_EMAIL_CHARS = 320
"""The longest email address (RFC 3696: 64 for the local part, 255 for the domain)."""

MAX_INSTANT_CHARS = 64
"""The longest RFC 3339 instant (with a fraction of a second to the nanosecond it is 35)."""

MAX_PHONES = 20
"""The most phone numbers an account's contacts may list."""

MAX_EMAILS = 20
"""The most email addresses an account's contacts may list."""

MAX_INSTALLMENTS = 1000
"""The most installments one arrangement may list (far above any `outreach.arrangements.max_installments`,
so a long plan is declined as `too_many_installments` by the rule, not refused by the contract)."""

MAX_DUES = 10_000
"""The most dues one `ledger.balance_changed` or `ledger.waiver_posted` may list (83 years of monthly
statements; about 0.9 MB of JSON, under Kafka's default message size)."""


FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)
"""The business dates the contract accepts (README, Limits). A date near `date.max` (9999-12-31)
was accepted by one service and overflowed another's date arithmetic (a close's D + 1, a cooldown's
days), so the services disagreed; no lender's due date or close lies outside these."""


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"impossible date: {exc}") from exc
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise ValueError(f"must be a date from {FIRST_DATE} to {LAST_DATE}")
    return parsed


def _instant(value: str) -> str:
    try:
        parse_instant(value)
    except ValueError as exc:
        raise ValueError(f"must be an RFC 3339 instant with an offset ({exc})") from exc
    return value


def _timezone(value: str) -> str:
    if value not in _known_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA timezone name such as Asia/Shanghai") from exc
    return value


_ZONES: set[str] = set()


def _known_timezones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("must be an E.164 phone number such as +14155550100")
    return value


def _email(value: str) -> str:
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValueError("must be an email address")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date), PlainSerializer(lambda d: d.isoformat(), return_type=str)]
"""A calendar date, ISO `YYYY-MM-DD`; impossible dates (2026-02-30) are refused."""

Instant = Annotated[str, StringConstraints(max_length=MAX_INSTANT_CHARS), AfterValidator(_instant)]
"""An RFC 3339 instant, kept as the exact string given."""

MAX_MINOR_UNITS = 2**53 - 1
"""The largest amount accepted: every JSON consumer (a JavaScript one too) and a Java long hold it
exactly, and it is 90 trillion units of any currency."""

MinorUnits = Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR_UNITS)]
"""Money in integer minor units, never negative, at most MAX_MINOR_UNITS."""

PositiveMinorUnits = Annotated[int, Field(strict=True, gt=0, le=MAX_MINOR_UNITS)]
"""Money in integer minor units, at least 1, at most MAX_MINOR_UNITS."""

Count = Annotated[int, Field(strict=True, ge=0)]
"""A non-negative integer count (dpd, attempts, sequence)."""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
"""An opaque identifier chosen by its producer, 1 to MAX_ID_CHARS characters."""

FreeText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
"""Free text written by a person or a system, at most MAX_TEXT_CHARS characters."""

Label = Annotated[str, StringConstraints(max_length=MAX_LABEL_CHARS)]
"""A short name (template, step, strategy, bucket, case state, locale), at most MAX_LABEL_CHARS characters."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lowercase hex digits."""

Timezone = Annotated[str, StringConstraints(max_length=MAX_LABEL_CHARS), AfterValidator(_timezone)]
"""An IANA timezone name (zoneinfo)."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 alphabetic currency code."""

PhoneNumber = Annotated[str, StringConstraints(max_length=16), AfterValidator(_e164)]
"""An E.164 phone number. Personal data: never logged."""

EmailAddress = Annotated[str, StringConstraints(max_length=MAX_EMAIL_CHARS), AfterValidator(_email)]
"""An email address. Personal data: never logged."""
