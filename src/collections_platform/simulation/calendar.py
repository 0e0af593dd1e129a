"""Business dates of the simulated lender: Monday to Friday, no holidays (a simplification)."""

from __future__ import annotations

from datetime import date, timedelta


def is_business_day(day: date) -> bool:
    """True for Monday to Friday."""
    return day.weekday() < 5


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the next Monday."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the Friday before."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def business_days(start: date, count: int) -> list[date]:
    """`count` consecutive business dates from the first business date on or after `start`."""
    out: list[date] = []
    day = next_business_day(start)
    while len(out) < count:
        out.append(day)
        day = next_business_day(day + timedelta(days=1))
    return out


def add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    """The same day-of-month `months` later (capped at 28 so every month has it)."""
    month0 = day.month - 1 + months
    year = day.year + month0 // 12
    return date(year, month0 % 12 + 1, min(day_of_month or day.day, 28))
