"""Counters of the day close in this process: how many account rows each close read.

A close must cost in proportion to the accounts that change that day (behaviour.md, Delinquency);
tests and the benchmark read these counters instead of timing it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CloseMetrics:
    """`closes` handled; `accounts_read` in total and by the last close; events the last close published."""

    closes: int = 0
    accounts_read: int = 0
    last_accounts_read: int = 0
    last_published: int = 0

    def record(self, read: int, published: int) -> None:
        """Count one close that read `read` account rows and published `published` events."""
        self.closes += 1
        self.accounts_read += read
        self.last_accounts_read = read
        self.last_published = published


close_metrics = CloseMetrics()
"""This process's counters (module state: one per process, like a Prometheus registry)."""
