"""Build replay inputs the way another team would from contract.md, run the real `collections replay`
command over them and read its output (helpers of test_scenarios_core.py).

Every builder returns one structured-mode CloudEvents object (a dict); `Scenario` numbers the ids,
gives each event a `time` and writes the JSONL file. Dates are ISO strings, money minor units.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def collections_command() -> list[str]:
    """The installed `collections` script (as a user runs it), else the module."""
    script = Path(sys.executable).parent / "collections"
    if script.exists():
        return [str(script)]
    found = shutil.which("collections")
    return [found] if found else [sys.executable, "-m", "collections_platform.cli"]


def run_replay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`collections replay ARGS...`; returns the finished process (stdout/stderr as text)."""
    return subprocess.run(
        [*collections_command(), "replay", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def envelope(event_id: str, type_name: str, subject: str, time: str, data: dict[str, Any]) -> dict[str, Any]:
    """One structured-mode CloudEvents 1.0 event."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "scenario-test",
        "type": type_name,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
    }


def opened_data(account: str, *, opened_on: str = "2026-01-01", timezone: str = "UTC", **extra: Any) -> dict[str, Any]:
    """`account.opened` data with every consent given and one mobile phone, one email, an address."""
    data: dict[str, Any] = {
        "account_id": account,
        "customer_id": f"cust-{account}",
        "product": "credit_card",
        "currency": "USD",
        "opened_on": opened_on,
        "timezone": timezone,
        "locale": "en-US",
        "contacts": {
            "phones": [{"number": "+14155550100", "kind": "mobile"}],
            "emails": [f"{account}@example.com"],
            "postal_address": "1 Main St, Springfield",
        },
        "consents": {"sms": True, "email": True, "push": True, "autodialed_calls": True},
    }
    data.update(extra)
    return data


@dataclass
class Scenario:
    """An input file under construction: events in file order, ids `<prefix>-<n>`."""

    prefix: str = "ev"
    lines: list[str] = field(default_factory=list)
    counter: int = 0

    def next_id(self) -> str:
        self.counter += 1
        return f"{self.prefix}-{self.counter:04d}"

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append an event object; returns it (its `id` is what rejections and causes name)."""
        self.lines.append(json.dumps(event))
        return event

    def raw(self, line: str) -> int:
        """Append a raw line (unreadable JSON and the like); returns its 1-based line number."""
        self.lines.append(line)
        return len(self.lines)

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def event(
        self, type_name: str, subject: str, data: dict[str, Any], time: str, event_id: str | None = None
    ) -> dict[str, Any]:
        return self.add(envelope(event_id or self.next_id(), type_name, subject, time, data))

    # -- the contract's inbound types --------------------------------------------------------------
    def opened(self, account: str, time: str = "2026-01-01T09:00:00Z", **data: Any) -> dict[str, Any]:
        return self.event("account.opened", account, opened_data(account, **data), time)

    def due(
        self,
        account: str,
        due_id: str,
        due_date: str,
        amount: int,
        *,
        statement: int | None = None,
        time: str | None = None,
    ) -> dict[str, Any]:
        data = {
            "account_id": account,
            "due_id": due_id,
            "due_date": due_date,
            "amount_due_minor": amount,
            "statement_balance_minor": statement if statement is not None else amount * 10,
        }
        return self.event("payment.due", account, data, time or f"{due_date}T00:05:00Z")

    def paid(self, account: str, payment_id: str, amount: int, on: str, time: str | None = None) -> dict[str, Any]:
        data = {"account_id": account, "payment_id": payment_id, "amount_minor": amount, "received_on": on}
        return self.event("payment.received", account, data, time or f"{on}T12:00:00Z")

    def reversed(self, account: str, payment_id: str, time: str, reason: str = "nsf") -> dict[str, Any]:
        data = {"account_id": account, "payment_id": payment_id, "reason": reason}
        return self.event("payment.reversed", account, data, time)

    def flag(self, account: str, flag: str, time: str, *, cleared: bool = False) -> dict[str, Any]:
        type_name = "account.flag_cleared" if cleared else "account.flag_set"
        return self.event(type_name, account, {"account_id": account, "flag": flag, "reason": "test"}, time)

    def close(self, as_of: str, time: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        return self.event("day.closed", "clock", {"as_of": as_of}, time or f"{as_of}T23:30:00+00:00", event_id)

    def closes(self, first: str, last: str) -> list[dict[str, Any]]:
        """`day.closed` for every date from `first` to `last`, both included."""
        from datetime import date, timedelta

        day, end, out = date.fromisoformat(first), date.fromisoformat(last), []
        while day <= end:
            out.append(self.close(day.isoformat()))
            day += timedelta(days=1)
        return out

    def result(self, account: str, occurred_at: str, outcome: str = "answered_rpc", **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "account_id": account,
            "attempt_id": None,
            "channel": "call",
            "outcome": outcome,
            "occurred_at": occurred_at,
        }
        data.update(extra)
        return self.event("contact.result_reported", account, data, occurred_at)

    def write(self, path: Path) -> Path:
        path.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")
        return path


@dataclass
class Output:
    """The replay's output: every line's raw text and its decoded envelope, in order."""

    raw_lines: list[str]
    events: list[dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> Output:
        text = path.read_text(encoding="utf-8")
        raw = [line for line in text.split("\n") if line]
        return cls(raw, [json.loads(line) for line in raw])

    def of(self, type_name: str, account: str | None = None) -> list[dict[str, Any]]:
        """Events of `type_name` (optionally about `account`), in order."""
        return [
            e
            for e in self.events
            if e["type"] == type_name and (account is None or e["data"].get("account_id") == account)
        ]

    def data(self, type_name: str, account: str | None = None) -> list[dict[str, Any]]:
        return [e["data"] for e in self.of(type_name, account)]

    def about(self, account: str) -> list[dict[str, Any]]:
        """Every published event whose subject is `account`."""
        return [e for e in self.events if e["subject"] == account]

    def caused_by(self, cause_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = set(cause_ids)
        return [e for e in self.events if e["data"].get("cause_id") in ids]


def replay_scenario(scenario: Scenario, workdir: Path, *extra: str | Path) -> Output:
    """Write `scenario`, run `collections replay` on it (status 0 required) and read the output."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = scenario.write(workdir / "input.jsonl")
    out = workdir / "output.jsonl"
    done = run_replay(source, "--out", out, *extra)
    assert done.returncode == 0, done.stderr
    return Output.read(out)
