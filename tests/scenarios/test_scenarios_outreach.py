"""Outreach as the spec's letter says, checked through `collections replay` over all four services.

Each scenario builds a JSONL input (accounts, dues, payments, closes, results), runs the real
replay (the `collections_platform.replay.replay` coroutine, and once the CLI), and asserts on the
exact outreach events a careful reader of contract.md and behaviour.md expects.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_core_helpers import envelope, opened_data, run_replay

from collections_events.config import PlatformConfig, parse_config
from collections_platform.replay import replay

ZERO = "0" * 64
ALL_CONSENTS = {"sms": True, "email": True, "push": True, "autodialed_calls": True}
CONTACTS = {
    "phones": [{"number": "+8613800000001", "kind": "mobile"}],
    "emails": ["wei@example.com"],
    "postal_address": "上海市 1 号路",
}
OUTREACH_TYPES = (
    "outreach.contact_requested",
    "outreach.contact_suppressed",
    "outreach.promise_recorded",
    "outreach.promise_kept",
    "outreach.promise_broken",
    "outreach.arrangement_made",
    "outreach.arrangement_declined",
    "outreach.arrangement_broken",
    "outreach.arrangement_completed",
)


def d(text: str) -> date:
    return date.fromisoformat(text)


class Scenario:
    """A replay input built event by event (each with a unique id and a plausible time)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def add(self, type_name: str, data: dict[str, Any], time: str, subject: str | None = None) -> None:
        event_id = f"in-{len(self.lines) + 1}"
        self.lines.append(envelope(event_id, type_name, subject or data.get("account_id", "clock"), time, data))

    def opened(
        self,
        account: str = "A1",
        tz: str = "Asia/Shanghai",
        contacts: dict[str, Any] | None = None,
        consents: dict[str, bool] | None = None,
        day: str = "2025-01-01",
    ) -> None:
        data = opened_data(
            account,
            opened_on=day,
            timezone=tz,
            currency="CNY",
            locale="zh-CN",
            contacts=CONTACTS if contacts is None else contacts,
            consents=ALL_CONSENTS if consents is None else consents,
        )
        self.add("account.opened", data, f"{day}T01:00:00Z")

    def due(
        self,
        account: str,
        due_id: str,
        due_date: str,
        amount: int,
        statement: int | None = None,
        time: str | None = None,
    ) -> None:
        self.add(
            "payment.due",
            {
                "account_id": account,
                "due_id": due_id,
                "due_date": due_date,
                "amount_due_minor": amount,
                "statement_balance_minor": statement if statement is not None else amount,
            },
            time or f"{due_date}T00:00:00Z",
        )

    def paid(self, account: str, payment_id: str, amount: int, received_on: str, time: str | None = None) -> None:
        self.add(
            "payment.received",
            {"account_id": account, "payment_id": payment_id, "amount_minor": amount, "received_on": received_on},
            time or f"{received_on}T10:00:00Z",
        )

    def reversed(self, account: str, payment_id: str, time: str) -> None:
        self.add("payment.reversed", {"account_id": account, "payment_id": payment_id, "reason": "nsf"}, time)

    def flag(self, account: str, flag: str, on: bool, time: str) -> None:
        kind = "account.flag_set" if on else "account.flag_cleared"
        self.add(kind, {"account_id": account, "flag": flag, "reason": "told"}, time)

    def close(self, day: str) -> None:
        self.add("day.closed", {"as_of": day}, f"{day}T16:00:00Z", subject="clock")

    def closes(self, first: str, last: str, skip_weekends: bool = False) -> None:
        day = d(first)
        while day <= d(last):
            if not (skip_weekends and day.weekday() >= 5):
                self.close(day.isoformat())
            day += timedelta(days=1)

    def result(self, account: str, outcome: str, occurred_at: str, **extra: Any) -> None:
        data = {"account_id": account, "attempt_id": None, "channel": "call", "outcome": outcome}
        data["occurred_at"] = occurred_at
        data.update(extra)
        self.add("contact.result_reported", data, occurred_at)

    def by_time(self) -> None:
        """Put the lines in the order of their `time` (stable): the order a lender would publish them."""
        self.lines.sort(key=lambda line: line["time"].replace("Z", "+00:00"))

    def write(self, path: Path) -> Path:
        """The input as a JSONL file at `path`."""
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines), "utf-8")
        return path

    async def run(self, tmp: Path, config: dict[str, Any] | None = None) -> Output:
        source, out = self.write(tmp / "input.jsonl"), tmp / "output.jsonl"
        cfg: PlatformConfig = parse_config(config or {})
        await replay(source, out, cfg, None)
        return Output([json.loads(x) for x in out.read_text("utf-8").splitlines()], self.lines)


class Output:
    """A replay's output, with helpers to pick out outreach's decisions."""

    def __init__(self, events: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> None:
        self.events = events
        self.inputs = inputs

    def of(self, type_name: str, account: str | None = None) -> list[dict[str, Any]]:
        return [
            e["data"] for e in self.events if e["type"] == type_name and (account is None or e["subject"] == account)
        ]

    def decisions(self, account: str = "A1") -> list[tuple[Any, ...]]:
        """Outreach's decisions for `account` in order, compactly."""
        out: list[tuple[Any, ...]] = []
        for e in self.events:
            if e["subject"] != account or e["type"] not in OUTREACH_TYPES:
                continue
            x = e["data"]
            t = e["type"].removeprefix("outreach.")
            if t == "contact_requested":
                out.append((t, x["step"], x["not_before"], x["not_after"]))
            elif t == "contact_suppressed":
                out.append((t, x["step"], x["reason"]))
            elif t.startswith("promise"):
                out.append((t, x["amount_minor"], x["promised_on"]))
            elif t == "arrangement_declined":
                out.append((t, x["reason"]))
            elif t == "arrangement_broken":
                out.append((t, x["as_of"], x["installment"], x["paid_minor"], x["expected_minor"]))
            else:
                out.append((t,))
        return out

    def requests(self, account: str = "A1") -> list[tuple[str, str]]:
        """(step, local window date as the not_before's UTC date) of each request."""
        return [(x["step"], x["not_before"]) for x in self.of("outreach.contact_requested", account)]

    def steps_by_close(self, account: str = "A1") -> dict[str, list[tuple[str, str | None]]]:
        """For each input close (by its as_of), the (step, suppression reason or None) it caused."""
        result: dict[str, list[tuple[str, str | None]]] = {}
        current = "?"
        for e in self.events:
            if e["type"] in ("outreach.contact_requested", "outreach.contact_suppressed") and e["subject"] == account:
                x = e["data"]
                current = x.get("as_of", current)
                result.setdefault(current, []).append((x["step"], x.get("reason")))
        return result


# -- contract checks applied to every scenario's output -------------------------------------------
HEX64 = set("0123456789abcdef")
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "outreach.contact_requested": {
        "attempt_id": (str,),
        "account_id": (str,),
        "channel": (str,),
        "template": (str,),
        "destination": (str,),
        "not_before": (str,),
        "not_after": (str,),
        "step": (str,),
    },
    "outreach.contact_suppressed": {
        "account_id": (str,),
        "channel": (str,),
        "template": (str,),
        "step": (str,),
        "reason": (str,),
    },
    "outreach.contact_recorded": {
        "record_id": (str,),
        "account_id": (str,),
        "attempt_id": (str, type(None)),
        "kind": (str,),
        "channel": (str,),
        "outcome": (str, type(None)),
        "occurred_at": (str,),
        "as_of": (str, type(None)),
        "sequence": (int,),
        "prev_hash": (str,),
        "hash": (str,),
    },
    "outreach.promise_recorded": {
        "promise_id": (str,),
        "account_id": (str,),
        "amount_minor": (int,),
        "promised_on": (str,),
    },
    "outreach.promise_kept": {
        "promise_id": (str,),
        "account_id": (str,),
        "amount_minor": (int,),
        "promised_on": (str,),
    },
    "outreach.promise_broken": {
        "promise_id": (str,),
        "account_id": (str,),
        "amount_minor": (int,),
        "promised_on": (str,),
    },
    "outreach.arrangement_made": {
        "arrangement_id": (str,),
        "account_id": (str,),
        "kind": (str,),
        "installments": (list,),
        "total_minor": (int,),
        "made_on": (str,),
    },
    "outreach.arrangement_declined": {"account_id": (str,), "kind": (str,), "reason": (str,)},
    "outreach.arrangement_broken": {
        "arrangement_id": (str,),
        "account_id": (str,),
        "as_of": (str,),
        "installment": (int,),
        "due_on": (str,),
        "paid_minor": (int,),
        "expected_minor": (int,),
    },
    "outreach.arrangement_completed": {
        "arrangement_id": (str,),
        "account_id": (str,),
        "kind": (str,),
        "made_on": (str,),
        "paid_minor": (int,),
    },
}
REASONS = {
    "frequency_cap",
    "no_consent",
    "no_destination",
    "cease_and_desist",
    "dispute",
    "bankruptcy",
    "deceased",
    "legal_hold",
    "promise_active",
    "arrangement_active",
    "rpc_cooldown",
}


def recompute_hash(record: dict[str, Any]) -> str:
    """contract.md: hex SHA-256 of prev_hash + canonical JSON of every field but hash."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((record["prev_hash"] + canonical).encode("utf-8")).hexdigest()


def check_contract(out: Output) -> None:
    """Every outreach event has the contract's minimum fields with the right types; the envelope is
    CloudEvents; every trail is a valid chain; every request has its record and vice versa."""
    for e in out.events:
        assert e["specversion"] == "1.0" and e["datacontenttype"] == "application/json"
        assert e["id"] and e["source"] and e["time"]
        fields = FIELDS.get(e["type"])
        if fields is None:
            continue
        assert e["subject"] == e["data"]["account_id"]
        for name, types in fields.items():
            assert name in e["data"], (e["type"], name)
            value = e["data"][name]
            assert isinstance(value, types) and not isinstance(value, bool), (e["type"], name, value)
        data = e["data"]
        if e["type"] == "outreach.contact_suppressed":
            assert data["reason"] in REASONS
        for key in ("promised_on", "made_on", "as_of", "due_on"):
            if isinstance(data.get(key), str):
                date.fromisoformat(data[key])
    ids = [e["id"] for e in out.events]
    assert len(ids) == len(set(ids)), "event ids must be unique"
    heads: dict[str, tuple[int, str]] = {}
    requested: dict[str, dict[str, Any]] = {}
    for e in out.events:
        if e["type"] == "outreach.contact_recorded":
            r = e["data"]
            seq, prev = heads.get(r["account_id"], (0, ZERO))
            assert r["sequence"] == seq + 1
            assert r["prev_hash"] == prev
            assert len(r["hash"]) == 64 and set(r["hash"]) <= HEX64
            assert r["hash"] == recompute_hash(r)
            heads[r["account_id"]] = (r["sequence"], r["hash"])
            if r["kind"] == "requested":
                assert r["outcome"] is None and r["as_of"] is not None
                requested[r["attempt_id"]] = r
            else:
                assert r["kind"] == "result" and r["as_of"] is None and r["outcome"] is not None
    asked = {x["attempt_id"]: x for x in out.of("outreach.contact_requested")}
    assert set(asked) == set(requested), "one requested record per request"
    for attempt_id, x in asked.items():
        assert requested[attempt_id]["channel"] == x["channel"]


def by_close(out: Output, account: str = "A1") -> list[tuple[str, str, str | None]]:
    """(as_of, step, reason or None) of every fired step of `account`, in output order."""
    found = []
    for e in out.events:
        if e["subject"] != account:
            continue
        if e["type"] == "outreach.contact_requested":
            found.append((e["data"]["as_of"], e["data"]["step"], None))
        elif e["type"] == "outreach.contact_suppressed":
            found.append((e["data"]["as_of"], e["data"]["step"], e["data"]["reason"]))
    return found


def step(id_: str, channel: str, from_dpd: int, to_dpd: int | None = None, every: int | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": id_, "channel": channel, "template": f"t-{id_}", "from_dpd": from_dpd}
    if to_dpd is not None:
        raw["to_dpd"] = to_dpd
    if every is not None:
        raw["every_days"] = every
    return raw


def delinquent_account(account: str = "A1", tz: str = "Asia/Shanghai", **opened: Any) -> Scenario:
    s = Scenario()
    s.opened(account, tz, **opened)
    s.due(account, "D1", "2025-03-01", 10000)
    return s


# -- steps ------------------------------------------------------------------------------------------
async def test_default_strategy_fires_each_step_at_its_first_close_in_range(tmp_path: Path) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-31")
    out = await s.run(tmp_path)
    check_contract(out)
    fired = by_close(out)
    calls = [(f"2025-03-{n:02d}", "calls", None) for n in range(11, 32)]
    expected = [
        ("2025-03-02", "sms-reminder", None),
        ("2025-03-02", "push-reminder", None),
        ("2025-03-06", "email-reminder", None),
        *calls[:-1],
        ("2025-03-31", "calls", None),
        ("2025-03-31", "letter-30", None),
    ]
    assert fired == expected
    req = out.of("outreach.contact_requested")
    sms = req[0]
    assert (sms["channel"], sms["template"], sms["destination"]) == ("sms", "reminder", "+8613800000001")
    assert (sms["not_before"], sms["not_after"]) == ("2025-03-03T00:00:00Z", "2025-03-03T13:00:00Z")
    assert req[1]["destination"] == "cust-A1" and req[1]["channel"] == "push"
    assert req[2]["destination"] == "wei@example.com" and req[2]["template"] == "reminder_2"
    assert req[-1]["destination"] == CONTACTS["postal_address"] and req[-1]["template"] == "notice_30"
    recorded = out.of("outreach.contact_recorded")
    assert [r["sequence"] for r in recorded] == list(range(1, len(req) + 1))
    assert recorded[0]["prev_hash"] == ZERO
    assert [r["as_of"] for r in recorded] == [x["as_of"] for x in req]
    assert recorded[0]["occurred_at"] == "2025-03-02T16:00:00Z"
    # Each request is followed by its own record.
    kinds = [e["type"] for e in out.events if e["type"].startswith("outreach.contact_")]
    assert kinds == ["outreach.contact_requested", "outreach.contact_recorded"] * len(req)


async def test_to_dpd_bounds_and_every_days_repeat(tmp_path: Path) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-12")
    config = {
        "outreach": {
            "strategy": [step("short", "call", 2, 4, 1), step("every3", "sms", 1, None, 3), step("once", "email", 3)]
        }
    }
    out = await s.run(tmp_path, config)
    check_contract(out)
    got = by_close(out)
    # dpd = D - 03-01
    assert [a for a, st, _ in got if st == "short"] == ["2025-03-03", "2025-03-04", "2025-03-05"]
    assert [a for a, st, _ in got if st == "every3"] == ["2025-03-02", "2025-03-05", "2025-03-08", "2025-03-11"]
    assert [a for a, st, _ in got if st == "once"] == ["2025-03-04"]
    # strategy order within a close
    assert [st for a, st, _ in got if a == "2025-03-05"] == ["short", "every3"]


async def test_weekend_gap_fires_at_the_first_close_with_dpd_in_range(tmp_path: Path) -> None:
    # 2025-03-01 is a Saturday; closes only on weekdays: dpd 1 falls on Sunday (no close).
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-14", skip_weekends=True)
    config = {"outreach": {"strategy": [step("sms", "sms", 1), step("daily", "call", 5, None, 1)]}}
    out = await s.run(tmp_path, config)
    check_contract(out)
    got = by_close(out)
    assert got[0] == ("2025-03-03", "sms", None)  # dpd 2, the first close with dpd >= 1
    assert [a for a, st, _ in got if st == "daily"] == [
        "2025-03-06",
        "2025-03-07",
        "2025-03-10",
        "2025-03-11",
        "2025-03-12",
        "2025-03-13",
        "2025-03-14",
    ]
    # Friday's close asks for Saturday's window (calendar D+1).
    friday = next(x for x in out.of("outreach.contact_requested") if x["as_of"] == "2025-03-07")
    assert friday["not_before"] == "2025-03-08T00:00:00Z"


async def test_a_new_episode_restarts_the_steps(tmp_path: Path) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-03")
    s.paid("A1", "P1", 10000, "2025-03-04", time="2025-03-04T03:00:00Z")
    s.closes("2025-03-04", "2025-03-05")
    s.due("A1", "D2", "2025-03-06", 5000)
    s.closes("2025-03-06", "2025-03-08")
    out = await s.run(tmp_path)
    check_contract(out)
    assert by_close(out) == [
        ("2025-03-02", "sms-reminder", None),
        ("2025-03-02", "push-reminder", None),
        ("2025-03-07", "sms-reminder", None),
        ("2025-03-07", "push-reminder", None),
    ]


# -- windows ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "due", "window"),
    [
        ("Asia/Shanghai", "2025-03-06", ("2025-03-08T00:00:00Z", "2025-03-08T13:00:00Z")),
        ("America/New_York", "2025-03-06", ("2025-03-08T13:00:00Z", "2025-03-09T02:00:00Z")),
        # 9 March 2025: New York springs forward; 08:00 and 21:00 are EDT (UTC-4).
        ("America/New_York", "2025-03-07", ("2025-03-09T12:00:00Z", "2025-03-10T01:00:00Z")),
        # 2 November 2025: New York falls back; 08:00 and 21:00 are EST (UTC-5).
        ("America/New_York", "2025-10-31", ("2025-11-02T13:00:00Z", "2025-11-03T02:00:00Z")),
        ("Europe/London", "2025-03-28", ("2025-03-30T07:00:00Z", "2025-03-30T20:00:00Z")),
        # 6 April 2025: Auckland leaves daylight saving at 03:00; 08:00 and 21:00 are NZST (UTC+12).
        ("Pacific/Auckland", "2025-04-04", ("2025-04-05T20:00:00Z", "2025-04-06T09:00:00Z")),
    ],
)
async def test_window_is_d_plus_one_local_in_utc(tmp_path: Path, tz: str, due: str, window: tuple[str, str]) -> None:
    s = Scenario()
    s.opened("A1", tz)
    s.due("A1", "D1", due, 10000)
    first = d(due) + timedelta(days=1)
    s.closes(due, first.isoformat())
    out = await s.run(tmp_path)
    check_contract(out)
    sms = out.of("outreach.contact_requested")[0]
    assert sms["as_of"] == first.isoformat()
    assert (sms["not_before"], sms["not_after"]) == window


async def test_configured_window(tmp_path: Path) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-02")
    out = await s.run(tmp_path, {"outreach": {"window": {"start": "09:30", "end": "18:00"}}})
    sms = out.of("outreach.contact_requested")[0]
    assert (sms["not_before"], sms["not_after"]) == ("2025-03-03T01:30:00Z", "2025-03-03T10:00:00Z")


# -- suppression --------------------------------------------------------------------------------------
async def test_suppression_reasons_in_the_spec_order(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"outreach": {"strategy": [step("call", "call", 1, None, 1), step("letter", "letter", 1, None, 1)]}}
    s.closes("2025-03-01", "2025-03-02")  # 03-02: both requested
    s.flag("A1", "dispute", True, "2025-03-03T01:00:00Z")
    s.flag("A1", "cease_and_desist", True, "2025-03-03T01:00:00Z")
    s.close("2025-03-03")  # cease_and_desist before dispute
    s.flag("A1", "cease_and_desist", False, "2025-03-04T01:00:00Z")
    s.close("2025-03-04")  # dispute
    s.flag("A1", "bankruptcy", True, "2025-03-05T01:00:00Z")
    s.close("2025-03-05")  # bankruptcy before dispute
    s.flag("A1", "deceased", True, "2025-03-06T01:00:00Z")
    s.close("2025-03-06")  # deceased first
    for flag in ("deceased", "bankruptcy"):
        s.flag("A1", flag, False, "2025-03-07T01:00:00Z")
    s.result("A1", "answered_rpc", "2025-03-07T02:00:00Z", promise={"amount_minor": 500, "promised_on": "2025-03-09"})
    s.close("2025-03-07")  # dispute before promise_active
    s.flag("A1", "dispute", False, "2025-03-08T01:00:00Z")
    s.result(
        "A1",
        "answered_rpc",
        "2025-03-08T02:00:00Z",
        arrangement={"kind": "plan", "installments": [{"due_on": "2025-03-20", "amount_minor": 10000}]},
    )
    s.close("2025-03-08")  # promise_active before arrangement_active
    s.flag("A1", "hardship", True, "2025-03-09T01:00:00Z")
    s.close("2025-03-09")  # promise broken at its close; arrangement_active before no_consent
    out = await s.run(tmp_path, config)
    check_contract(out)
    got = by_close(out)
    expected = [
        ("2025-03-02", "call", None),
        ("2025-03-02", "letter", None),
        ("2025-03-03", "call", "cease_and_desist"),
        ("2025-03-03", "letter", "cease_and_desist"),
        ("2025-03-04", "call", "dispute"),
        ("2025-03-04", "letter", "dispute"),
        ("2025-03-05", "call", "bankruptcy"),
        ("2025-03-05", "letter", "bankruptcy"),
        ("2025-03-06", "call", "deceased"),
        ("2025-03-06", "letter", "deceased"),
        ("2025-03-07", "call", "dispute"),
        ("2025-03-07", "letter", "dispute"),
        ("2025-03-08", "call", "promise_active"),
        ("2025-03-08", "letter", "promise_active"),
        ("2025-03-09", "call", "arrangement_active"),
        ("2025-03-09", "letter", "arrangement_active"),
    ]
    assert got == expected
    sup = out.of("outreach.contact_suppressed")[0]
    assert (sup["channel"], sup["template"], sup["step"]) == ("call", "t-call", "call")
    # the promise breaks at the close of promised_on, before that close's steps
    types = [e["type"] for e in out.events if e["subject"] == "A1" and e["type"].startswith("outreach.")]
    broken_at = types.index("outreach.promise_broken")
    assert types[broken_at + 1 :] == ["outreach.contact_suppressed", "outreach.contact_suppressed"]


async def test_no_consent_hardship_and_no_destination(tmp_path: Path) -> None:
    config = {
        "outreach": {
            "strategy": [
                step("sms", "sms", 1),
                step("email", "email", 1),
                step("push", "push", 1),
                step("call", "call", 1),
                step("letter", "letter", 1),
            ]
        }
    }
    s = Scenario()
    # A1: no consent at all and nowhere to send: no_consent wins over no_destination; letter: none
    s.opened("A1", consents={}, contacts={"phones": [], "emails": [], "postal_address": None})
    # A2: every consent, nowhere to send
    s.opened("A2", contacts={"phones": [], "emails": [], "postal_address": None})
    # A3: every consent and destination, hardship: all but letters no_consent
    s.opened("A3")
    s.flag("A3", "hardship", True, "2025-02-01T00:00:00Z")
    # A4: a home phone only: a call goes there, an sms has nowhere to go
    s.opened("A4", contacts={"phones": [{"number": "+8610000000002", "kind": "home"}], "emails": ["x@example.com"]})
    for account in ("A1", "A2", "A3", "A4"):
        s.due(account, "D1", "2025-03-01", 10000)
    s.closes("2025-03-01", "2025-03-02")
    out = await s.run(tmp_path, config)
    check_contract(out)
    assert [r for _, _, r in by_close(out, "A1")] == ["no_consent"] * 4 + ["no_destination"]
    assert [r for _, _, r in by_close(out, "A2")] == [
        "no_destination",
        "no_destination",
        None,
        "no_destination",
        "no_destination",
    ]
    assert [r for _, _, r in by_close(out, "A3")] == ["no_consent"] * 4 + [None]
    assert [r for _, _, r in by_close(out, "A4")] == ["no_destination", None, None, None, "no_destination"]
    calls = [x for x in out.of("outreach.contact_requested", "A4") if x["channel"] == "call"]
    assert calls[0]["destination"] == "+8610000000002"


async def test_rpc_cooldown_seven_local_days_from_the_answered_day(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"outreach": {"strategy": [step("call", "call", 1, None, 1)]}}
    s.closes("2025-03-01", "2025-03-03")
    # 17:30 UTC on 3 March is 01:30 on 4 March in Shanghai: the cooldown covers windows 03-04..03-10.
    s.result("A1", "answered_rpc", "2025-03-03T17:30:00Z")
    s.closes("2025-03-04", "2025-03-11")
    out = await s.run(tmp_path, config)
    check_contract(out)
    got = {a: r for a, _, r in by_close(out)}
    assert got == {
        "2025-03-02": None,
        "2025-03-03": None,  # window 03-04 was asked before the result; the rule looks at window dates
        "2025-03-04": "rpc_cooldown",
        "2025-03-05": "rpc_cooldown",
        "2025-03-06": "rpc_cooldown",
        "2025-03-07": "rpc_cooldown",
        "2025-03-08": "rpc_cooldown",
        "2025-03-09": "rpc_cooldown",  # window 03-10: the 7th day
        "2025-03-10": None,  # window 03-11
        "2025-03-11": None,
    }
    results = [r for r in out.of("outreach.contact_recorded") if r["kind"] == "result"]
    assert len(results) == 1
    assert (results[0]["outcome"], results[0]["as_of"], results[0]["attempt_id"]) == ("answered_rpc", None, None)
    assert results[0]["occurred_at"] == "2025-03-03T17:30:00Z"


async def test_rpc_cooldown_configured_and_only_for_calls(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {
        "outreach": {
            "rpc_cooldown_days": 2,
            "strategy": [step("call", "call", 1, None, 1), step("sms", "sms", 1, None, 1)],
        }
    }
    s.closes("2025-03-01", "2025-03-02")
    s.result("A1", "answered_rpc", "2025-03-03T02:00:00Z")  # local 03-03
    s.result("A1", "answered_third_party", "2025-03-05T02:00:00Z")
    s.closes("2025-03-03", "2025-03-05")
    out = await s.run(tmp_path, config)
    got = by_close(out)
    assert got == [
        ("2025-03-02", "call", None),  # decided before the result arrived
        ("2025-03-02", "sms", None),
        ("2025-03-03", "call", "rpc_cooldown"),  # window 03-04
        ("2025-03-03", "sms", None),
        ("2025-03-04", "call", None),
        ("2025-03-04", "sms", None),
        ("2025-03-05", "call", None),
        ("2025-03-05", "sms", None),
    ]


async def test_frequency_cap_seven_calls_in_any_seven_days(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"outreach": {"strategy": [step("c1", "call", 1, None, 1), step("c2", "call", 1, None, 1)]}}
    s.closes("2025-03-01", "2025-03-12")
    out = await s.run(tmp_path, config)
    check_contract(out)
    got = [(a[-2:], st, r) for a, st, r in by_close(out)]
    cap = "frequency_cap"
    assert got == [
        ("02", "c1", None), ("02", "c2", None),
        ("03", "c1", None), ("03", "c2", None),
        ("04", "c1", None), ("04", "c2", None),
        ("05", "c1", None), ("05", "c2", cap),
        ("06", "c1", cap), ("06", "c2", cap),
        ("07", "c1", cap), ("07", "c2", cap),
        ("08", "c1", cap), ("08", "c2", cap),
        ("09", "c1", None), ("09", "c2", None),
        ("10", "c1", None), ("10", "c2", None),
        ("11", "c1", None), ("11", "c2", None),
        ("12", "c1", None), ("12", "c2", cap),
    ]  # fmt: skip
    # at most 7 call windows in any 7 consecutive days
    windows = [d(x["not_before"][:10]) for x in out.of("outreach.contact_requested")]
    for start in windows:
        assert sum(1 for w in windows if start <= w < start + timedelta(days=7)) <= 7


async def test_frequency_cap_with_daily_closes_and_a_smaller_cap(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"outreach": {"call_cap": {"calls": 3, "days": 7}, "strategy": [step("c", "call", 1, None, 1)]}}
    s.closes("2025-03-01", "2025-03-12")
    out = await s.run(tmp_path, config)
    got = [r for _, _, r in by_close(out)]
    cap = "frequency_cap"
    # windows 03-03.. : 3 asked, 4 capped, then 03-10, 03-11, 03-12 fit, 03-13 capped
    assert got == [None, None, None, cap, cap, cap, cap, None, None, None, cap]


async def test_rpc_cooldown_checked_before_frequency_cap(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"outreach": {"call_cap": {"calls": 1, "days": 7}, "strategy": [step("c", "call", 1, None, 1)]}}
    s.closes("2025-03-01", "2025-03-02")
    s.result("A1", "answered_rpc", "2025-03-03T02:00:00Z")
    s.closes("2025-03-03", "2025-03-03")
    out = await s.run(tmp_path, config)
    assert [r for _, _, r in by_close(out)] == [None, "rpc_cooldown"]


async def test_legal_hold_from_the_first_evaluation_after_the_case(tmp_path: Path) -> None:
    s = delinquent_account()
    config = {"legal": {"referral_dpd": 12}}
    s.closes("2025-03-01", "2025-03-13")
    s.flag("A1", "cease_and_desist", True, "2025-03-14T01:00:00Z")
    s.closes("2025-03-14", "2025-03-15")
    out = await s.run(tmp_path, config)
    check_contract(out)
    cases = out.of("legal.case_opened")
    assert len(cases) == 1 and cases[0]["as_of"] == "2025-03-13"
    assert [x for x in by_close(out) if x[1] == "calls"] == [
        ("2025-03-11", "calls", None),
        ("2025-03-12", "calls", None),
        ("2025-03-13", "calls", None),
        ("2025-03-14", "calls", "legal_hold"),  # legal_hold before cease_and_desist
        ("2025-03-15", "calls", "legal_hold"),
    ]


# -- promises -----------------------------------------------------------------------------------------
def promise(amount: int, on: str) -> dict[str, Any]:
    return {"amount_minor": amount, "promised_on": on}


async def test_promises_recorded_kept_broken(tmp_path: Path) -> None:
    s = Scenario()
    for account in ("A1", "A2", "A3", "A4"):
        s.opened(account)
        s.due(account, "D1", "2025-03-01", 10000)
    s.closes("2025-03-01", "2025-03-08")
    # A1: a payment dated on the promise's day but arriving before it, and one dated before its day,
    # do not count; 400 does: broken at the close of promised_on, before that close's steps.
    s.paid("A1", "P0", 600, "2025-03-06", time="2025-03-06T01:00:00Z")
    s.result("A1", "answered_rpc", "2025-03-06T02:00:00Z", promise=promise(1000, "2025-03-06"))
    s.paid("A1", "P1", 600, "2025-03-05", time="2025-03-06T03:00:00Z")
    s.paid("A1", "P2", 400, "2025-03-06", time="2025-03-06T04:00:00Z")
    # A2: two partial payments keep it at once; steps are suppressed while it is unsettled.
    s.result("A2", "answered_rpc", "2025-03-06T02:00:00Z", promise=promise(1000, "2025-03-08"))
    s.paid("A2", "P1", 600, "2025-03-07", time="2025-03-07T02:00:00Z")
    s.paid("A2", "P2", 400, "2025-03-08", time="2025-03-08T02:00:00Z")
    # A3: a cure keeps it although the counted payments fall short.
    s.result("A3", "answered_rpc", "2025-03-06T02:00:00Z", promise=promise(20000, "2025-03-10"))
    s.paid("A3", "P1", 10000, "2025-03-06", time="2025-03-06T05:00:00Z")
    # A4: the promise's day is its local date (03-06 in Shanghai, 03-05 in UTC); a payment after
    # the close of promised_on no longer counts (a settled promise is final).
    s.result("A4", "answered_rpc", "2025-03-05T17:00:00Z", promise=promise(500, "2025-03-07"))
    s.paid("A4", "P1", 500, "2025-03-05", time="2025-03-05T18:00:00Z")
    s.paid("A4", "P2", 500, "2025-03-07", time="2025-03-08T01:00:00Z")
    s.by_time()
    out = await s.run(tmp_path)
    check_contract(out)
    sms = [("contact_requested", "sms-reminder", "2025-03-03T00:00:00Z", "2025-03-03T13:00:00Z")]
    push = [("contact_requested", "push-reminder", "2025-03-03T00:00:00Z", "2025-03-03T13:00:00Z")]
    email = ("contact_requested", "email-reminder", "2025-03-07T00:00:00Z", "2025-03-07T13:00:00Z")
    assert out.decisions("A1") == [
        *sms,
        *push,
        ("promise_recorded", 1000, "2025-03-06"),
        ("promise_broken", 1000, "2025-03-06"),
        email,
    ]
    assert out.decisions("A2") == [
        *sms,
        *push,
        ("promise_recorded", 1000, "2025-03-08"),
        ("contact_suppressed", "email-reminder", "promise_active"),
        ("promise_kept", 1000, "2025-03-08"),
    ]
    assert out.decisions("A3") == [
        *sms,
        *push,
        ("promise_recorded", 20000, "2025-03-10"),
        ("promise_kept", 20000, "2025-03-10"),
    ]
    assert out.decisions("A4") == [
        *sms,
        *push,
        ("promise_recorded", 500, "2025-03-07"),
        ("contact_suppressed", "email-reminder", "promise_active"),
        ("promise_broken", 500, "2025-03-07"),
    ]
    # A2 is kept at the payment that reached it; A3 after the cure arrived from delinquency.
    a2 = [e for e in out.events if e["subject"] == "A2"]
    kept = next(i for i, e in enumerate(a2) if e["type"] == "outreach.promise_kept")
    assert a2[kept - 1]["type"] == "ledger.balance_changed"
    a3 = [(e["type"], e["data"].get("to_bucket")) for e in out.events if e["subject"] == "A3"]
    assert a3.index(("outreach.promise_kept", None)) > a3.index(("delinquency.bucket_changed", "current"))
    # the promise_id is the same on recorded and its settlement
    for account in ("A1", "A2", "A3", "A4"):
        ids = {
            e["data"]["promise_id"]
            for e in out.events
            if e["subject"] == account and e["type"].startswith("outreach.promise_")
        }
        assert len(ids) == 1


# -- arrangements -------------------------------------------------------------------------------------
def monthly(first: str, last: str, count: int, total: int) -> list[dict[str, Any]]:
    """`count` installments: monthly from `first`, the last on `last`, adding up to `total`."""
    start = d(first)
    dates = [
        start.replace(year=start.year + (start.month - 1 + i) // 12, month=(start.month - 1 + i) % 12 + 1)
        for i in range(count - 1)
    ]
    dates.append(d(last))
    each = total // count
    amounts = [each] * (count - 1) + [total - each * (count - 1)]
    return [{"due_on": x.isoformat(), "amount_minor": a} for x, a in zip(dates, amounts, strict=True)]


def arrangement(kind: str, installments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "installments": installments}


async def test_arrangement_declines_in_order_and_at_their_edges(tmp_path: Path) -> None:
    s = Scenario()
    s.opened("B1")
    s.due("B1", "D1", "2025-03-01", 10000, statement=20000, time="2025-02-10T00:00:00Z")
    s.due("B1", "D2", "2025-03-10", 5000, statement=50000, time="2025-02-20T00:00:00Z")
    s.opened("B2")
    s.closes("2025-03-01", "2025-03-05")
    at = "2025-03-05T17:00:00Z"  # 01:00 on 6 March in Shanghai: made_on 2025-03-06
    s.result("B2", "answered_rpc", at, arrangement=arrangement("plan", monthly("2025-03-06", "2026-03-06", 13, 13000)))
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("settlement", monthly("2025-03-05", "2026-03-06", 13, 1300))
    )
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("settlement", monthly("2025-03-05", "2026-03-06", 12, 1200))
    )
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("settlement", monthly("2025-03-06", "2026-03-07", 12, 1200))
    )
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("settlement", monthly("2025-03-06", "2026-03-06", 12, 9999))
    )
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("settlement", monthly("2025-03-06", "2026-03-06", 12, 10000))
    )
    s.result(
        "B1", "answered_rpc", at, arrangement=arrangement("plan", [{"due_on": "2025-03-20", "amount_minor": 10000}])
    )
    s.close("2025-03-06")
    out = await s.run(tmp_path)
    check_contract(out)
    assert out.decisions("B2") == [("arrangement_declined", "not_delinquent")]
    assert out.decisions("B1") == [
        ("contact_requested", "sms-reminder", "2025-03-03T00:00:00Z", "2025-03-03T13:00:00Z"),
        ("contact_requested", "push-reminder", "2025-03-03T00:00:00Z", "2025-03-03T13:00:00Z"),
        ("arrangement_declined", "too_many_installments"),
        ("arrangement_declined", "outside_allowed_dates"),
        ("arrangement_declined", "outside_allowed_dates"),
        ("arrangement_declined", "below_settlement_floor"),
        ("arrangement_made",),
        ("arrangement_declined", "arrangement_active"),
        ("contact_suppressed", "email-reminder", "arrangement_active"),
    ]
    made = out.of("outreach.arrangement_made", "B1")[0]
    assert made["made_on"] == "2025-03-06" and made["kind"] == "settlement" and made["total_minor"] == 10000
    assert made["installments"] == monthly("2025-03-06", "2026-03-06", 12, 10000)
    kinds = [x["kind"] for x in out.of("outreach.arrangement_declined", "B1")]
    assert kinds == ["settlement"] * 4 + ["plan"]
    # every result is on the trail
    assert len([r for r in out.of("outreach.contact_recorded", "B1") if r["kind"] == "result"]) == 6


async def test_arrangement_broken_at_due_plus_grace_and_treatment_resumes(tmp_path: Path) -> None:
    s = Scenario()
    for account in ("B3", "B4"):
        s.opened(account)
        s.due(account, "D1", "2025-03-01", 10000)
    s.closes("2025-03-01", "2025-03-14")
    # B3: a payment on made_on but arriving before the arrangement does not count; installment 1 unmet
    s.paid("B3", "P0", 1000, "2025-03-05", time="2025-03-05T01:00:00Z")
    plan3 = [{"due_on": "2025-03-07", "amount_minor": 3000}, {"due_on": "2025-03-20", "amount_minor": 7000}]
    s.result("B3", "answered_rpc", "2025-03-05T03:00:00Z", arrangement=arrangement("plan", plan3))
    s.paid("B3", "P1", 2000, "2025-03-06", time="2025-03-06T03:00:00Z")
    # B4: installment 1 met, installment 2 unmet
    plan4 = [{"due_on": "2025-03-07", "amount_minor": 3000}, {"due_on": "2025-03-09", "amount_minor": 3000}]
    s.result("B4", "answered_third_party", "2025-03-05T03:00:00Z", arrangement=arrangement("plan", plan4))
    s.paid("B4", "P1", 3000, "2025-03-06", time="2025-03-06T03:00:00Z")
    s.by_time()
    out = await s.run(tmp_path, {"outreach": {"rpc_cooldown_days": 0}})
    check_contract(out)
    three = by_close(out, "B3")
    assert three == [
        ("2025-03-02", "sms-reminder", None),
        ("2025-03-02", "push-reminder", None),
        ("2025-03-06", "email-reminder", "arrangement_active"),
        ("2025-03-11", "calls", "arrangement_active"),
        ("2025-03-12", "calls", None),
        ("2025-03-13", "calls", None),
        ("2025-03-14", "calls", None),
    ]
    broken = out.of("outreach.arrangement_broken", "B3")
    assert broken == [
        {
            "arrangement_id": out.of("outreach.arrangement_made", "B3")[0]["arrangement_id"],
            "account_id": "B3",
            "as_of": "2025-03-12",
            "installment": 1,
            "due_on": "2025-03-07",
            "paid_minor": 2000,
            "expected_minor": 3000,
        }
    ]
    types = [e["type"] for e in out.events if e["subject"] == "B3" and e["type"].startswith("outreach.")]
    at = types.index("outreach.arrangement_broken")
    assert types[at + 1] == "outreach.contact_requested"  # treatment resumes at that close
    b4 = out.of("outreach.arrangement_broken", "B4")
    assert [(x["as_of"], x["installment"], x["due_on"], x["paid_minor"], x["expected_minor"]) for x in b4] == [
        ("2025-03-14", 2, "2025-03-09", 3000, 6000)
    ]
    assert [x for x in by_close(out, "B4") if x[1] == "calls"] == [
        ("2025-03-11", "calls", "arrangement_active"),
        ("2025-03-12", "calls", "arrangement_active"),
        ("2025-03-13", "calls", "arrangement_active"),
        ("2025-03-14", "calls", None),
    ]
    assert out.of("outreach.arrangement_made", "B3")[0]["made_on"] == "2025-03-05"


async def test_completed_settlement_is_waived_and_cures_at_once(tmp_path: Path) -> None:
    s = Scenario()
    s.opened("B5")
    s.due("B5", "D1", "2025-03-01", 10000, statement=10000)
    s.closes("2025-03-01", "2025-03-02")
    terms = [{"due_on": "2025-03-04", "amount_minor": 3000}, {"due_on": "2025-03-06", "amount_minor": 3000}]
    s.result("B5", "answered_rpc", "2025-03-03T02:00:00Z", arrangement=arrangement("settlement", terms))
    s.close("2025-03-03")
    s.paid("B5", "P1", 3000, "2025-03-04", time="2025-03-04T02:00:00Z")
    s.close("2025-03-04")
    s.paid("B5", "P2", 3000, "2025-03-05", time="2025-03-05T02:00:00Z")
    s.closes("2025-03-05", "2025-03-12")
    out = await s.run(tmp_path)
    check_contract(out)
    made = out.of("outreach.arrangement_made")[0]
    assert made["made_on"] == "2025-03-03" and made["total_minor"] == 6000
    tail = [e for e in out.events if e["subject"] == "B5"]
    start = next(i for i, e in enumerate(tail) if e["type"] == "outreach.arrangement_completed")
    assert [e["type"] for e in tail[start - 1 : start + 4]] == [
        "ledger.balance_changed",
        "outreach.arrangement_completed",
        "ledger.waiver_posted",
        "ledger.balance_changed",
        "delinquency.bucket_changed",
    ]
    completed = tail[start]["data"]
    assert completed == {
        "arrangement_id": made["arrangement_id"],
        "account_id": "B5",
        "kind": "settlement",
        "made_on": "2025-03-03",
        "paid_minor": 6000,
    }
    assert tail[start + 1]["data"]["amount_minor"] == 4000
    assert tail[start + 1]["data"]["arrangement_id"] == made["arrangement_id"]
    assert tail[start + 2]["data"]["unpaid_dues"] == [] and tail[start + 3]["data"]["to_bucket"] == "current"
    # steps while active were suppressed; after the cure nothing fires
    assert by_close(out, "B5") == [("2025-03-02", "sms-reminder", None), ("2025-03-02", "push-reminder", None)]
    assert out.of("outreach.arrangement_broken") == []


# -- an episode that starts between closes -------------------------------------------------------------
async def test_episode_started_by_a_reversal_is_evaluated_as_of_the_last_close(tmp_path: Path) -> None:
    s = Scenario()
    for account in ("E1", "E2"):
        s.opened(account)
        s.due(account, "D1", "2025-03-01", 10000)
    s.closes("2025-03-01", "2025-03-05")
    # E1: cured before the close of 03-06, the payment reversed after it
    s.paid("E1", "P1", 10000, "2025-03-06", time="2025-03-06T02:00:00Z")
    s.reversed("E1", "P1", "2025-03-06T20:00:00Z")
    # E2: evaluated at the close of 03-06, then cured and relapsed before the next close
    s.paid("E2", "P1", 10000, "2025-03-07", time="2025-03-06T21:00:00Z")
    s.reversed("E2", "P1", "2025-03-06T22:00:00Z")
    s.closes("2025-03-06", "2025-03-07")
    s.by_time()
    out = await s.run(tmp_path)
    check_contract(out)
    again = [
        ("2025-03-06", "sms-reminder", None),
        ("2025-03-06", "push-reminder", None),
        ("2025-03-06", "email-reminder", None),
    ]
    first = [("2025-03-02", "sms-reminder", None), ("2025-03-02", "push-reminder", None)]
    assert by_close(out, "E1") == [*first, *again]
    assert by_close(out, "E2") == [*first, ("2025-03-06", "email-reminder", None), *again]
    for account in ("E1", "E2"):
        late = [x for x in out.of("outreach.contact_requested", account) if x["as_of"] == "2025-03-06"]
        assert {(x["not_before"], x["not_after"]) for x in late} == {("2025-03-07T00:00:00Z", "2025-03-07T13:00:00Z")}
        # evaluated at once: right after delinquency's bucket_changed, before the next close
        relapse = next(
            i
            for i, e in enumerate(out.events)
            if e["subject"] == account
            and e["type"] == "delinquency.bucket_changed"
            and e["data"]["from_bucket"] == "current"
        )
        assert relapse < out.events.index(
            next(
                e
                for e in out.events
                if e["type"] == "outreach.contact_requested"
                and e["subject"] == account
                and e["data"]["as_of"] == "2025-03-06"
                and e["data"]["step"] == "sms-reminder"
            )
        )


# -- determinism and the CLI --------------------------------------------------------------------------
def test_cli_replay_twice_is_byte_identical_and_results_join_the_trail(tmp_path: Path) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-02")
    s.result("A1", "answered_rpc", "2025-03-03T02:00:00Z", promise=promise(2000, "2025-03-05"))
    s.closes("2025-03-03", "2025-03-12")
    source = s.write(tmp_path / "in.jsonl")
    config = tmp_path / "config.yaml"
    config.write_text("outreach:\n  rpc_cooldown_days: 3\n", "utf-8")
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        target = tmp_path / name
        done = run_replay(source, "--out", target, "--config", config)
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(target.read_bytes())
    assert outs[0] == outs[1]
    out = Output([json.loads(x) for x in outs[0].decode("utf-8").splitlines()], s.lines)
    check_contract(out)
    sms = out.of("outreach.contact_requested")[0]
    for line in out.events:
        if line["type"].startswith("outreach."):
            cause_times = {x["time"] for x in s.lines}
            assert line["time"] in cause_times  # the cause's time, never the wall clock
    # a result naming the sms attempt joins the trail after it
    s.add(
        "contact.result_reported",
        {
            "account_id": "A1",
            "attempt_id": sms["attempt_id"],
            "channel": "sms",
            "outcome": "delivered",
            "occurred_at": "2025-03-13T01:00:00+08:00",
        },
        "2025-03-12T17:00:00Z",
    )
    s.write(source)
    target = tmp_path / "c.jsonl"
    done = run_replay(source, "--out", target, "--config", config)
    assert done.returncode == 0, done.stderr[-2000:]
    longer = target.read_bytes()
    assert longer.startswith(outs[0])
    out = Output([json.loads(x) for x in longer.decode("utf-8").splitlines()], s.lines)
    check_contract(out)
    last = out.of("outreach.contact_recorded")[-1]
    assert (last["kind"], last["attempt_id"], last["outcome"], last["as_of"]) == (
        "result",
        sms["attempt_id"],
        "delivered",
        None,
    )
    assert last["occurred_at"] == "2025-03-13T01:00:00+08:00"


# -- invalid results ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [
        {
            "promise": promise(100, "2025-03-10"),
            "arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": 1}]),
        },
        {"arrangement": arrangement("loan", [{"due_on": "2025-03-10", "amount_minor": 100}])},
        {"arrangement": arrangement("plan", [])},
        {"arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": 0}])},
        {"arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": -5}])},
        {"arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": 10.5}])},
        {"arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": "100"}])},
        {"arrangement": arrangement("plan", [{"due_on": "2025-03-10", "amount_minor": True}])},
        {
            "arrangement": arrangement(
                "plan", [{"due_on": "2025-03-10", "amount_minor": 100}, {"due_on": "2025-03-10", "amount_minor": 100}]
            )
        },
        {
            "arrangement": arrangement(
                "settlement",
                [{"due_on": "2025-03-11", "amount_minor": 100}, {"due_on": "2025-03-10", "amount_minor": 100}],
            )
        },
        {"outcome": "hung_up"},
        {"occurred_at": "2025-03-03T10:00:00"},
    ],
)
async def test_invalid_results_are_rejected_and_change_nothing(tmp_path: Path, extra: dict[str, Any]) -> None:
    s = delinquent_account()
    s.closes("2025-03-01", "2025-03-02")
    data = {"account_id": "A1", "attempt_id": None, "channel": "call", "outcome": "answered_rpc"}
    s.add("contact.result_reported", {**data, "occurred_at": "2025-03-03T02:00:00Z", **extra}, "2025-03-03T02:00:00Z")
    s.closes("2025-03-03", "2025-03-06")
    out = await s.run(tmp_path)
    check_contract(out)
    rejected = out.of("system.event_rejected")
    assert len(rejected) == 1 and rejected[0]["type"] == "contact.result_reported"
    assert rejected[0]["line"] == 5 and rejected[0]["event_id"] == "in-5"
    assert [r["kind"] for r in out.of("outreach.contact_recorded")] == ["requested"] * 3
    assert out.of("outreach.arrangement_made") == out.of("outreach.promise_recorded") == []


async def test_a_suppressed_step_is_not_made_up_and_non_ascii_ids_chain(tmp_path: Path) -> None:
    account = "客户-1"
    s = Scenario()
    s.opened(account)
    s.due(account, "D1", "2025-03-01", 10000)
    s.flag(account, "dispute", True, "2025-03-01T02:00:00Z")
    s.closes("2025-03-01", "2025-03-03")
    s.flag(account, "dispute", False, "2025-03-04T02:00:00Z")
    s.result(account, "no_answer", "2025-03-04T10:00:00+08:00")
    # a new timezone and consents apply from the next evaluation on
    s.add(
        "account.contacts_updated",
        {
            "account_id": account,
            "timezone": "Europe/Berlin",
            "consents": {"sms": True, "email": True, "push": True, "autodialed_calls": False},
        },
        "2025-03-04T03:00:00Z",
    )
    s.closes("2025-03-04", "2025-03-11")
    out = await s.run(tmp_path)
    check_contract(out)
    assert by_close(out, account) == [
        ("2025-03-02", "sms-reminder", "dispute"),
        ("2025-03-02", "push-reminder", "dispute"),
        ("2025-03-06", "email-reminder", None),
        ("2025-03-11", "calls", "no_consent"),
    ]
    email = out.of("outreach.contact_requested", account)[0]
    assert (email["not_before"], email["not_after"]) == ("2025-03-07T07:00:00Z", "2025-03-07T20:00:00Z")
    records = out.of("outreach.contact_recorded", account)
    assert [(r["kind"], r["account_id"], r["sequence"]) for r in records] == [
        ("result", account, 1),
        ("requested", account, 2),
    ]
    assert records[0]["prev_hash"] == ZERO and records[0]["hash"] == recompute_hash(records[0])
