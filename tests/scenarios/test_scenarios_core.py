"""Scenarios written from the spec's letter (contract.md, behaviour.md), run through the real
`collections replay` command over all four services: the envelope, rejections, exit codes, the
ledger, delinquency and legal.

Each module-scoped fixture replays one input file holding several independent accounts; the tests
read its output. Dates are business dates, money minor units.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_core_helpers import Output, Scenario, replay_scenario, run_replay

ENVELOPE_KEYS = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
MINIMUM_FIELDS = {
    "ledger.balance_changed": {"account_id", "unpaid_dues", "credit_minor", "cause_id"},
    "ledger.waiver_posted": {"account_id", "arrangement_id", "amount_minor"},
    "delinquency.bucket_changed": {
        "account_id",
        "as_of",
        "dpd",
        "delinquent_since",
        "from_bucket",
        "to_bucket",
        "past_due_minor",
    },
    "delinquency.dpd_changed": {"account_id", "as_of", "dpd", "delinquent_since", "past_due_minor"},
    "delinquency.charged_off": {"account_id", "as_of", "dpd", "past_due_minor"},
    "legal.case_opened": {"case_id", "account_id", "as_of", "dpd", "past_due_minor", "contact_attempts"},
    "legal.case_closed": {"case_id", "account_id", "as_of", "reason"},
    "system.event_rejected": {"event_id", "type", "line", "reason"},
}


def day(text: str, plus: int = 0) -> str:
    return (date.fromisoformat(text) + timedelta(days=plus)).isoformat()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_envelopes(out: Output, inputs: dict[str, dict[str, Any]] | None = None) -> None:
    """Structured mode, the contract's minimum fields, subject = account, time = the cause's time."""
    for line, event in zip(out.raw_lines, out.events, strict=True):
        assert set(event) >= ENVELOPE_KEYS, line
        assert event["specversion"] == "1.0"
        assert event["datacontenttype"] == "application/json"
        assert isinstance(event["data"], dict)
        fields = MINIMUM_FIELDS.get(event["type"])
        if fields is not None:
            assert set(event["data"]) >= fields, line
        account = event["data"].get("account_id")
        if account is not None:
            assert event["subject"] == account, line
    ids = [e["id"] for e in out.events]
    assert len(ids) == len(set(ids)), "event ids must be unique"
    for event in out.of("ledger.balance_changed") if inputs is not None else []:
        cause = (inputs or {})[event["data"]["cause_id"]]
        assert event["time"] == cause["time"]


# -- the envelope, determinism, --state ---------------------------------------------------------------
def mixed_scenario() -> Scenario:
    s = Scenario("mix")
    s.opened("M1", time="2026-01-01T09:00:00.250+08:00", timezone="Asia/Shanghai")
    s.due("M1", "m1-d1", "2026-01-10", 2000, time="2026-01-02T10:00:00+08:00")
    s.opened("M2", time="2026-01-01T09:00:01Z")
    s.due("M2", "m2-d1", "2026-01-12", 3000)
    for d in range(31):
        s.close(day("2026-01-08", d), time=f"{day('2026-01-08', d)}T16:00:00.000+00:00")
    s.paid("M1", "m1-p1", 500, "2026-02-08", time="2026-02-08T13:14:15.5-05:00")
    s.result("M2", "2026-02-08T03:00:00Z", promise={"amount_minor": 3000, "promised_on": "2026-02-12"})
    for d in range(20):
        s.close(day("2026-02-08", d + 1))
    s.paid("M2", "m2-p1", 3000, "2026-02-20")
    s.close("2026-03-01")
    return s


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Output, Path]:
    base = tmp_path_factory.mktemp("mixed")
    scenario = mixed_scenario()
    return scenario, replay_scenario(scenario, base / "whole"), base


def test_output_lines_are_structured_events_with_the_contract_fields(mixed: tuple[Scenario, Output, Path]) -> None:
    scenario, out, _ = mixed
    inputs = {e["id"]: e for e in map(json.loads, scenario.lines)}
    check_envelopes(out, inputs)
    assert out.of("delinquency.bucket_changed") and out.of("outreach.contact_requested")


def test_every_published_time_is_its_causes_time_byte_for_byte(mixed: tuple[Scenario, Output, Path]) -> None:
    scenario, out, _ = mixed
    inputs = [json.loads(line) for line in scenario.lines]
    times = {e["time"] for e in inputs}
    for event in out.events:
        assert event["time"] in times, event
    # Events caused by a close carry the close's time exactly (the odd `.000+00:00` form kept).
    first = out.of("delinquency.bucket_changed", "M1")[0]
    assert first["data"]["as_of"] == "2026-01-11"
    assert first["time"] == "2026-01-11T16:00:00.000+00:00"
    cure = out.of("delinquency.bucket_changed", "M2")[-1]
    assert cure["data"]["to_bucket"] == "current"
    assert cure["time"] == "2026-02-20T12:00:00Z"
    partial = out.of("ledger.balance_changed", "M1")[-1]
    assert partial["time"] == "2026-02-08T13:14:15.5-05:00"


def test_replaying_twice_gives_byte_identical_output(mixed: tuple[Scenario, Output, Path]) -> None:
    scenario, out, base = mixed
    again = replay_scenario(scenario, base / "again")
    assert again.raw_lines == out.raw_lines
    assert (base / "again" / "output.jsonl").read_bytes() == (base / "whole" / "output.jsonl").read_bytes()


@pytest.mark.parametrize("cut_after", ["2026-01-20", "2026-02-10"])
def test_two_halves_with_state_give_the_whole(mixed: tuple[Scenario, Output, Path], cut_after: str) -> None:
    scenario, _, base = mixed
    cut = next(
        i + 1
        for i, line in enumerate(scenario.lines)
        if json.loads(line)["type"] == "day.closed" and json.loads(line)["data"]["as_of"] == cut_after
    )
    first, second = Scenario("mix"), Scenario("mix")
    first.lines, second.lines = scenario.lines[:cut], scenario.lines[cut:]
    work = base / f"halves-{cut_after}"
    state = work / "state"
    one = replay_scenario(first, work / "one", "--state", state)
    two = replay_scenario(second, work / "two", "--state", state)
    whole = (base / "whole" / "output.jsonl").read_bytes()
    assert (work / "one" / "output.jsonl").read_bytes() + (work / "two" / "output.jsonl").read_bytes() == whole
    assert one.events and two.events


def test_subject_is_the_account_and_clock_events_are_not_republished(mixed: tuple[Scenario, Output, Path]) -> None:
    _, out, _ = mixed
    for event in out.events:
        if event["type"] != "system.event_rejected":
            assert event["subject"] in {"M1", "M2"}, event


# -- invalid input: exactly one system.event_rejected, no other effect ----------------------------------
def _good_opened(account: str) -> dict[str, Any]:
    data: dict[str, Any] = Scenario("tmp").opened(account)["data"]
    return data


INVALID: dict[str, tuple[str, str | None, Any]] = {
    # name: (type, event_id or None when unreadable, what to write: a raw line or (subject, data))
    "unreadable_json": ("", None, '{"specversion": "1.0", "id": "bad-json", "type": '),
    "not_an_object": ("", None, "[1, 2, 3]"),
    "a_string": ("", None, '"day.closed"'),
    "unknown_type": ("account.closed", "rej-unknown", ("R1", {"account_id": "R1"})),
    "missing_field": (
        "payment.received",
        "rej-missing",
        ("R1", {"account_id": "R1", "payment_id": "px", "received_on": "2026-01-11"}),
    ),
    "wrong_type": (
        "payment.received",
        "rej-wrong",
        ("R1", {"account_id": "R1", "payment_id": "px", "amount_minor": "100", "received_on": "2026-01-11"}),
    ),
    "float_money": (
        "payment.received",
        "rej-float",
        ("R1", {"account_id": "R1", "payment_id": "px", "amount_minor": 10.5, "received_on": "2026-01-11"}),
    ),
    "negative_money": (
        "payment.due",
        "rej-negative",
        (
            "R1",
            {
                "account_id": "R1",
                "due_id": "dx",
                "due_date": "2026-01-20",
                "amount_due_minor": -5,
                "statement_balance_minor": 100,
            },
        ),
    ),
    "impossible_date": (
        "payment.due",
        "rej-date",
        (
            "R1",
            {
                "account_id": "R1",
                "due_id": "dy",
                "due_date": "2026-02-30",
                "amount_due_minor": 500,
                "statement_balance_minor": 500,
            },
        ),
    ),
    "bad_timezone": ("account.opened", "rej-tz", ("R2", {**_good_opened("R2"), "timezone": "Mars/Olympus_Mons"})),
    "bad_e164": (
        "account.opened",
        "rej-phone",
        (
            "R2",
            {
                **_good_opened("R2"),
                "contacts": {"phones": [{"number": "0415 555 0100", "kind": "mobile"}], "emails": []},
            },
        ),
    ),
    "both_promise_and_arrangement": (
        "contact.result_reported",
        "rej-both",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "promise": {"amount_minor": 100, "promised_on": "2026-01-15"},
                "arrangement": {"kind": "plan", "installments": [{"due_on": "2026-01-20", "amount_minor": 100}]},
            },
        ),
    ),
    "unknown_arrangement_kind": (
        "contact.result_reported",
        "rej-kind",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "arrangement": {"kind": "forbearance", "installments": [{"due_on": "2026-01-20", "amount_minor": 1}]},
            },
        ),
    ),
    "no_installments": (
        "contact.result_reported",
        "rej-noinst",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "arrangement": {"kind": "plan", "installments": []},
            },
        ),
    ),
    "zero_installment": (
        "contact.result_reported",
        "rej-zero",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "arrangement": {"kind": "plan", "installments": [{"due_on": "2026-01-20", "amount_minor": 0}]},
            },
        ),
    ),
    "negative_installment": (
        "contact.result_reported",
        "rej-neginst",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "arrangement": {"kind": "settlement", "installments": [{"due_on": "2026-01-20", "amount_minor": -1}]},
            },
        ),
    ),
    "due_on_not_increasing": (
        "contact.result_reported",
        "rej-order",
        (
            "R1",
            {
                "account_id": "R1",
                "attempt_id": None,
                "channel": "call",
                "outcome": "answered_rpc",
                "occurred_at": "2026-01-12T10:00:00Z",
                "arrangement": {
                    "kind": "plan",
                    "installments": [
                        {"due_on": "2026-01-20", "amount_minor": 100},
                        {"due_on": "2026-01-20", "amount_minor": 100},
                    ],
                },
            },
        ),
    ),
    "unknown_payment_reversed": (
        "payment.reversed",
        "rej-reversal",
        ("R1", {"account_id": "R1", "payment_id": "never-seen", "reason": "chargeback"}),
    ),
    "platform_type_balance": (
        "ledger.balance_changed",
        "rej-own-ledger",
        ("R1", {"account_id": "R1", "unpaid_dues": [], "credit_minor": 0, "cause_id": "x"}),
    ),
    "platform_type_bucket": (
        "delinquency.bucket_changed",
        "rej-own-bucket",
        (
            "R1",
            {
                "account_id": "R1",
                "as_of": "2026-01-11",
                "dpd": 0,
                "delinquent_since": None,
                "from_bucket": "1-29",
                "to_bucket": "current",
                "past_due_minor": 0,
            },
        ),
    ),
    "platform_type_case": (
        "legal.case_opened",
        "rej-own-case",
        (
            "R1",
            {
                "case_id": "c",
                "account_id": "R1",
                "as_of": "2026-01-11",
                "dpd": 90,
                "past_due_minor": 1,
                "contact_attempts": 3,
            },
        ),
    ),
    "bad_reversal_reason": (
        "payment.reversed",
        "rej-reason",
        ("R1", {"account_id": "R1", "payment_id": "r1-p1", "reason": "because"}),
    ),
    "bad_flag": ("account.flag_set", "rej-flag", ("R1", {"account_id": "R1", "flag": "vip", "reason": "x"})),
    "bad_close_date": ("day.closed", "rej-close", ("clock", {"as_of": "2026-13-01"})),
}


def rejection_scenario(with_invalid: bool) -> tuple[Scenario, dict[str, int]]:
    """R1 owes and pays partly; R2 is opened; the invalid lines sit between (when `with_invalid`)."""
    s = Scenario("rej")
    lines: dict[str, int] = {}
    s.opened("R1")
    s.due("R1", "r1-d1", "2026-01-10", 1000)
    s.close("2026-01-10")
    s.close("2026-01-11")
    s.paid("R1", "r1-p1", 300, "2026-01-12")
    if with_invalid:
        for name, (type_name, event_id, body) in INVALID.items():
            if isinstance(body, str):
                lines[name] = s.raw(body)
            else:
                subject, data = body
                s.event(type_name, subject, data, "2026-01-12T15:00:00Z", event_id=event_id)
                lines[name] = s.line_count
    s.opened("R2", timezone="Europe/Berlin")
    s.close("2026-01-12")
    s.close("2026-01-13")
    return s, lines


@pytest.fixture(scope="module")
def rejections(tmp_path_factory: pytest.TempPathFactory) -> tuple[Output, Output, dict[str, int]]:
    base = tmp_path_factory.mktemp("rejections")
    with_bad, lines = rejection_scenario(True)
    without, _ = rejection_scenario(False)
    return replay_scenario(with_bad, base / "bad"), replay_scenario(without, base / "good"), lines


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_event_yields_exactly_one_rejection(
    rejections: tuple[Output, Output, dict[str, int]], name: str
) -> None:
    out, _, lines = rejections
    type_name, event_id, _ = INVALID[name]
    found = [e for e in out.of("system.event_rejected") if e["data"]["line"] == lines[name]]
    assert len(found) == 1, found
    data = found[0]["data"]
    assert data["event_id"] == event_id
    assert data["type"] == (type_name or None)
    assert isinstance(data["reason"], str) and data["reason"].strip()
    assert set(data) >= MINIMUM_FIELDS["system.event_rejected"]


def test_rejections_change_nothing_else(rejections: tuple[Output, Output, dict[str, int]]) -> None:
    out, clean, lines = rejections
    assert len(out.of("system.event_rejected")) == len(lines)
    kept = [line for line, e in zip(out.raw_lines, out.events, strict=True) if e["type"] != "system.event_rejected"]
    assert kept == clean.raw_lines


def test_a_rejection_carries_the_events_time_or_the_epoch(rejections: tuple[Output, Output, dict[str, int]]) -> None:
    out, _, lines = rejections
    by_line = {e["data"]["line"]: e for e in out.of("system.event_rejected")}
    assert by_line[lines["missing_field"]]["time"] == "2026-01-12T15:00:00Z"
    assert by_line[lines["missing_field"]]["subject"] == "R1"
    unreadable = by_line[lines["unreadable_json"]]
    assert unreadable["time"] == "1970-01-01T00:00:00Z"
    assert unreadable["id"] != by_line[lines["not_an_object"]]["id"]


# -- exit status ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = Scenario("tiny")
    s.opened("T1")
    s.due("T1", "t-d1", "2026-01-10", 100)
    s.raw("not json at all")
    s.close("2026-01-11")
    return s.write(tmp_path_factory.mktemp("tiny") / "in.jsonl")


def test_exit_zero_with_rejections(tiny_input: Path, tmp_path: Path) -> None:
    done = run_replay(tiny_input, "--out", tmp_path / "o.jsonl")
    assert done.returncode == 0, done.stderr
    out = Output.read(tmp_path / "o.jsonl")
    assert len(out.of("system.event_rejected")) == 1
    assert out.of("delinquency.bucket_changed")


def test_missing_input_fails_with_one_line(tmp_path: Path) -> None:
    done = run_replay(tmp_path / "absent.jsonl", "--out", tmp_path / "o.jsonl")
    assert done.returncode != 0
    assert done.stderr.strip() and "\n" not in done.stderr.strip()
    assert "absent.jsonl" in done.stderr


def test_missing_config_file_fails_with_one_line(tiny_input: Path, tmp_path: Path) -> None:
    done = run_replay(tiny_input, "--out", tmp_path / "o.jsonl", "--config", tmp_path / "nope.yaml")
    assert done.returncode != 0
    assert "\n" not in done.stderr.strip() and "nope.yaml" in done.stderr


BAD_CONFIGS = {
    "call_cap_days_zero": ("outreach:\n  call_cap:\n    days: 0\n", "outreach.call_cap.days"),
    "unknown_key": ("ledger:\n  tolerance: 5\n", "ledger.tolerance"),
    "unknown_section": ("billing:\n  x: 1\n", "billing"),
    "negative_tolerance": ("ledger:\n  tolerance_minor: -1\n", "ledger.tolerance_minor"),
    "string_tolerance": ("ledger:\n  tolerance_minor: '5'\n", "ledger.tolerance_minor"),
    "float_charge_off": ("delinquency:\n  charge_off_dpd: 1.5\n", "delinquency.charge_off_dpd"),
    "charge_off_zero": ("delinquency:\n  charge_off_dpd: 0\n", "delinquency.charge_off_dpd"),
    "referral_zero": ("legal:\n  referral_dpd: 0\n", "legal.referral_dpd"),
    "negative_attempts": ("legal:\n  min_contact_attempts: -1\n", "legal.min_contact_attempts"),
    "buckets_not_from_zero": (
        "delinquency:\n  buckets:\n    - {name: a, from_dpd: 1}\n    - {name: b, from_dpd: 30}\n",
        "delinquency.buckets",
    ),
    "buckets_not_increasing": (
        "delinquency:\n  buckets:\n    - {name: a, from_dpd: 0}\n    - {name: b, from_dpd: 30}\n"
        "    - {name: c, from_dpd: 30}\n",
        "delinquency.buckets",
    ),
    "unknown_preset": ("delinquency:\n  buckets: eu\n", "delinquency.buckets"),
    "window_start_after_end": ("outreach:\n  window: {start: '21:00', end: '08:00'}\n", "outreach.window"),
    "window_start_equals_end": ("outreach:\n  window: {start: '09:00', end: '09:00'}\n", "outreach.window"),
    "window_bad_time": ("outreach:\n  window: {start: '8am', end: '21:00'}\n", "outreach.window.start"),
    "step_from_after_to": (
        "outreach:\n  strategy:\n    - {id: s, channel: sms, template: t, from_dpd: 10, to_dpd: 5}\n",
        "outreach.strategy",
    ),
    "duplicate_step_id": (
        "outreach:\n  strategy:\n    - {id: s, channel: sms, template: t, from_dpd: 1}\n"
        "    - {id: s, channel: call, template: t, from_dpd: 2}\n",
        "outreach.strategy",
    ),
    "unknown_channel": (
        "outreach:\n  strategy:\n    - {id: s, channel: fax, template: t, from_dpd: 1}\n",
        "outreach.strategy.0.channel",
    ),
    "not_a_mapping": ("- just\n- a list\n", "config"),
    "unknown_topic": ("topics:\n  invoices: x\n", "topics.invoices"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_a_bad_config_stops_with_one_line_naming_the_key(tiny_input: Path, tmp_path: Path, name: str) -> None:
    text, key = BAD_CONFIGS[name]
    config = write_config(tmp_path / "config.yaml", text)
    done = run_replay(tiny_input, "--out", tmp_path / "o.jsonl", "--config", config)
    assert done.returncode != 0
    message = done.stderr.strip()
    assert message and "\n" not in message, message
    assert key in message, message


def test_zero_tolerance_and_a_partial_config_are_valid(tiny_input: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", "ledger:\n  tolerance_minor: 0\nlegal:\n  referral_dpd: 60\n")
    done = run_replay(tiny_input, "--out", tmp_path / "o.jsonl", "--config", config)
    assert done.returncode == 0, done.stderr


# -- ledger -------------------------------------------------------------------------------------------
def unpaid(event: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(d["due_id"], d["due_date"], d["unpaid_minor"]) for d in event["data"]["unpaid_dues"]]


@pytest.fixture(scope="module")
def ledger_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Output, dict[str, dict[str, Any]]]:
    s = Scenario("led")
    ev: dict[str, dict[str, Any]] = {}
    # L1: oldest first, the rest to later dues.
    s.opened("L1")
    ev["l1-d2"] = s.due("L1", "l1-d2", "2026-02-10", 1000)  # the later due arrives first
    ev["l1-d1"] = s.due("L1", "l1-d1", "2026-01-10", 1000)
    ev["l1-p1"] = s.paid("L1", "l1-p1", 1500, "2026-01-09")
    # L2: a credit beyond all dues pays the next due when it arrives.
    s.opened("L2")
    s.due("L2", "l2-d1", "2026-01-10", 1000)
    ev["l2-p1"] = s.paid("L2", "l2-p1", 1600, "2026-01-09")
    ev["l2-d2"] = s.due("L2", "l2-d2", "2026-02-10", 1000)
    # L3: a reversal makes the due it paid unpaid again, with its original date.
    s.opened("L3")
    s.due("L3", "l3-d1", "2026-01-10", 1000)
    s.paid("L3", "l3-p1", 1000, "2026-01-08")
    s.paid("L3", "l3-p2", 200, "2026-01-09")
    ev["l3-rev"] = s.reversed("L3", "l3-p1", "2026-01-12T08:00:00Z")
    ev["l3-rev-again"] = s.reversed("L3", "l3-p1", "2026-01-12T08:30:00Z")
    # L4: payment_id and due_id are business keys.
    s.opened("L4")
    s.due("L4", "l4-d1", "2026-01-10", 1000)
    ev["l4-p1"] = s.paid("L4", "l4-p1", 400, "2026-01-09")
    ev["l4-p1-again"] = s.paid("L4", "l4-p1", 400, "2026-01-09", time="2026-01-09T12:30:00Z")
    ev["l4-d1-again"] = s.due("L4", "l4-d1", "2026-01-10", 1000, time="2026-01-10T00:06:00Z")
    # L5: dues and payments before account.opened are kept.
    ev["l5-d1"] = s.due("L5", "l5-d1", "2026-01-10", 700)
    ev["l5-p1"] = s.paid("L5", "l5-p1", 200, "2026-01-09")
    ev["l5-open"] = s.opened("L5", time="2026-01-09T20:00:00Z")
    # L6: facts that do not move money publish nothing.
    ev["l6-open"] = s.opened("L6")
    ev["l6-zero"] = s.due("L6", "l6-d0", "2026-01-10", 0)
    ev["l6-flag"] = s.flag("L6", "hardship", "2026-01-10T10:00:00Z")
    s.closes("2026-01-10", "2026-01-12")
    return replay_scenario(s, tmp_path_factory.mktemp("ledger") / "run"), ev


def balances(out: Output, account: str) -> list[dict[str, Any]]:
    return out.of("ledger.balance_changed", account)


def test_ledger_pays_the_oldest_due_first_whatever_the_arrival_order(
    ledger_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = ledger_run
    events = balances(out, "L1")
    assert [unpaid(e) for e in events] == [
        [("l1-d2", "2026-02-10", 1000)],
        [("l1-d1", "2026-01-10", 1000), ("l1-d2", "2026-02-10", 1000)],
        [("l1-d2", "2026-02-10", 500)],
    ]
    assert [e["data"]["cause_id"] for e in events] == [ev["l1-d2"]["id"], ev["l1-d1"]["id"], ev["l1-p1"]["id"]]
    assert [e["data"]["credit_minor"] for e in events] == [0, 0, 0]
    assert events[-1]["time"] == ev["l1-p1"]["time"]


def test_ledger_credit_pays_the_next_due(ledger_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, ev = ledger_run
    events = balances(out, "L2")
    assert [(unpaid(e), e["data"]["credit_minor"]) for e in events] == [
        ([("l2-d1", "2026-01-10", 1000)], 0),
        ([], 600),
        ([("l2-d2", "2026-02-10", 400)], 0),
    ]
    assert events[-1]["data"]["cause_id"] == ev["l2-d2"]["id"]
    assert not out.of("delinquency.bucket_changed", "L2")


def test_ledger_reversal_recomputes_with_the_original_due_date(
    ledger_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = ledger_run
    events = balances(out, "L3")
    assert [(unpaid(e), e["data"]["credit_minor"]) for e in events] == [
        ([("l3-d1", "2026-01-10", 1000)], 0),
        ([], 0),
        ([], 200),
        ([("l3-d1", "2026-01-10", 800)], 0),
    ]
    assert events[-1]["data"]["cause_id"] == ev["l3-rev"]["id"]
    # A second reversal of a reversed payment changes nothing and is not an error.
    assert not [e for e in out.events if e["data"].get("event_id") == ev["l3-rev-again"]["id"]]
    assert not out.caused_by([ev["l3-rev-again"]["id"]])
    # The due is late again from its own date: 1 dpd at the close of 11 January.
    bucket = out.data("delinquency.bucket_changed", "L3")
    assert [(b["as_of"], b["dpd"], b["delinquent_since"], b["past_due_minor"]) for b in bucket] == [
        ("2026-01-11", 1, "2026-01-10", 800)
    ]


def test_ledger_business_keys_change_nothing_when_repeated(
    ledger_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = ledger_run
    events = balances(out, "L4")
    assert [unpaid(e) for e in events] == [[("l4-d1", "2026-01-10", 1000)], [("l4-d1", "2026-01-10", 600)]]
    assert not out.caused_by([ev["l4-p1-again"]["id"], ev["l4-d1-again"]["id"]])
    assert not out.of("system.event_rejected")


def test_ledger_keeps_dues_and_payments_before_the_opening(
    ledger_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = ledger_run
    events = balances(out, "L5")
    assert [unpaid(e) for e in events] == [[("l5-d1", "2026-01-10", 700)], [("l5-d1", "2026-01-10", 500)]]
    assert not out.caused_by([ev["l5-open"]["id"]])
    assert out.of("delinquency.bucket_changed", "L5")[0]["data"]["past_due_minor"] == 500


def test_ledger_publishes_only_on_change(ledger_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = ledger_run
    assert balances(out, "L6") == []
    assert out.about("L6") == []


def test_ledger_tolerance(tmp_path: Path) -> None:
    s = Scenario("tol")
    s.opened("T1")
    s.due("T1", "t1-d1", "2026-01-10", 1000)
    s.paid("T1", "t1-p1", 950, "2026-01-09")
    s.opened("T2")
    s.due("T2", "t2-d1", "2026-01-10", 1000)
    s.paid("T2", "t2-p1", 949, "2026-01-09")
    s.closes("2026-01-10", "2026-01-12")
    config = write_config(tmp_path / "c.yaml", "ledger:\n  tolerance_minor: 50\n")
    out = replay_scenario(s, tmp_path / "run", "--config", config)
    assert [unpaid(e) for e in balances(out, "T1")] == [[("t1-d1", "2026-01-10", 1000)], []]
    assert [unpaid(e) for e in balances(out, "T2")] == [[("t2-d1", "2026-01-10", 1000)], [("t2-d1", "2026-01-10", 51)]]
    assert not out.of("delinquency.bucket_changed", "T1")
    assert out.data("delinquency.bucket_changed", "T2")[0]["past_due_minor"] == 51


# -- delinquency --------------------------------------------------------------------------------------
def buckets(out: Output, account: str) -> list[tuple[str, int, str | None, str, str, int]]:
    return [
        (b["as_of"], b["dpd"], b["delinquent_since"], b["from_bucket"], b["to_bucket"], b["past_due_minor"])
        for b in out.data("delinquency.bucket_changed", account)
    ]


@pytest.fixture(scope="module")
def delinquency_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Output, dict[str, dict[str, Any]]]:
    s = Scenario("dq")
    ev: dict[str, dict[str, Any]] = {}
    for account in ("D1", "D2", "D2b", "D3", "D4"):
        s.opened(account)
    s.due("D1", "d1-d1", "2026-01-10", 1000)
    s.due("D2", "d2-d1", "2026-01-10", 1000)
    s.due("D2b", "d2b-d1", "2026-01-10", 1000)
    s.due("D3", "d3-d1", "2026-01-10", 1000)
    s.due("D3", "d3-d2", "2026-01-20", 1500)
    s.due("D4", "d4-d1", "2026-01-10", 1000)
    s.closes("2026-01-05", "2026-01-09")
    s.paid("D2", "d2-p1", 1000, "2026-01-10", time="2026-01-10T18:00:00Z")  # before the close of its due date
    s.close("2026-01-10")
    s.paid("D2b", "d2b-p1", 1000, "2026-01-10", time="2026-01-11T01:00:00Z")  # posted after that close
    s.closes("2026-01-11", "2026-01-25")
    ev["d3-p1"] = s.paid("D3", "d3-p1", 1000, "2026-01-26", time="2026-01-26T09:00:00Z")
    s.closes("2026-01-26", "2026-02-15")
    ev["d4-p1"] = s.paid("D4", "d4-p1", 1000, "2026-02-16", time="2026-02-16T07:07:07+08:00")
    s.due("D4", "d4-d2", "2026-03-10", 500)
    s.closes("2026-02-16", "2026-07-20")
    ev["repeat"] = s.close("2026-07-20", time="2026-07-21T00:00:00Z")
    ev["backwards"] = s.close("2026-07-01", time="2026-07-21T00:01:00Z")
    ev["duplicate"] = s.add(ev["repeat"] | {"id": s.lines and json.loads(s.lines[-3])["id"]})
    return replay_scenario(s, tmp_path_factory.mktemp("delinquency") / "run"), ev


def test_dpd_one_at_the_close_after_the_due_date_and_every_us_bucket_edge(
    delinquency_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = delinquency_run
    since = "2026-01-10"
    assert buckets(out, "D1") == [
        ("2026-01-11", 1, since, "current", "1-29", 1000),
        ("2026-02-09", 30, since, "1-29", "30-59", 1000),
        ("2026-03-11", 60, since, "30-59", "60-89", 1000),
        ("2026-04-10", 90, since, "60-89", "90-119", 1000),
        ("2026-05-10", 120, since, "90-119", "120-149", 1000),
        ("2026-06-09", 150, since, "120-149", "150-179", 1000),
        ("2026-07-09", 180, since, "150-179", "180+", 1000),
    ]
    times = [e["time"] for e in out.of("delinquency.bucket_changed", "D1")]
    assert times[0] == "2026-01-11T23:30:00+00:00"


def test_charge_off_at_180_once(delinquency_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = delinquency_run
    assert out.data("delinquency.charged_off", "D1") == [
        {"account_id": "D1", "as_of": "2026-07-09", "dpd": 180, "past_due_minor": 1000}
    ]
    kinds = [e["type"] for e in out.about("D1") if e["type"].startswith("delinquency.")]
    assert kinds[-2:] == ["delinquency.bucket_changed", "delinquency.charged_off"]


def test_a_due_paid_on_its_due_date_is_never_late(delinquency_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = delinquency_run
    assert buckets(out, "D2") == [] and buckets(out, "D2b") == []
    assert out.of("outreach.contact_requested", "D2") == []


def test_dpd_changed_when_the_oldest_past_due_date_moves_without_a_bucket_change(
    delinquency_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = delinquency_run
    moved = out.of("delinquency.dpd_changed", "D3")
    assert [e["data"] for e in moved] == [
        {"account_id": "D3", "as_of": "2026-01-25", "dpd": 5, "delinquent_since": "2026-01-20", "past_due_minor": 1500}
    ]
    assert moved[0]["time"] == ev["d3-p1"]["time"]
    assert buckets(out, "D3")[:2] == [
        ("2026-01-11", 1, "2026-01-10", "current", "1-29", 1000),
        ("2026-02-19", 30, "2026-01-20", "1-29", "30-59", 1500),
    ]


def test_a_cure_goes_straight_to_current_at_once(delinquency_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, ev = delinquency_run
    changes = out.of("delinquency.bucket_changed", "D4")
    assert buckets(out, "D4") == [
        ("2026-01-11", 1, "2026-01-10", "current", "1-29", 1000),
        ("2026-02-09", 30, "2026-01-10", "1-29", "30-59", 1000),
        ("2026-02-15", 0, None, "30-59", "current", 0),
        ("2026-03-11", 1, "2026-03-10", "current", "1-29", 500),
        ("2026-04-09", 30, "2026-03-10", "1-29", "30-59", 500),
        ("2026-05-09", 60, "2026-03-10", "30-59", "60-89", 500),
        ("2026-06-08", 90, "2026-03-10", "60-89", "90-119", 500),
        ("2026-07-08", 120, "2026-03-10", "90-119", "120-149", 500),
    ]
    assert changes[2]["time"] == ev["d4-p1"]["time"]
    balance = out.of("ledger.balance_changed", "D4")
    cure_index = out.events.index(changes[2])
    assert out.events.index(next(b for b in balance if b["data"]["cause_id"] == ev["d4-p1"]["id"])) < cure_index


def test_a_repeated_or_backwards_close_is_rejected_once_and_changes_nothing(
    delinquency_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = delinquency_run
    rejected = out.data("system.event_rejected")
    assert [(r["event_id"], r["type"]) for r in rejected] == [
        (ev["repeat"]["id"], "day.closed"),
        (ev["backwards"]["id"], "day.closed"),
    ]
    assert out.events[-2]["type"] == out.events[-1]["type"] == "system.event_rejected"
    check_envelopes(out)


def test_charge_off_once_per_episode(tmp_path: Path) -> None:
    s = Scenario("co")
    s.opened("C1")
    s.due("C1", "c1-d1", "2026-01-10", 1000)
    s.due("C1", "c1-d2", "2026-01-12", 1000)
    s.closes("2026-01-10", "2026-01-16")
    s.paid("C1", "c1-p1", 1000, "2026-01-17")  # the oldest due paid: still delinquent, same episode
    s.closes("2026-01-17", "2026-01-25")
    s.paid("C1", "c1-p2", 1000, "2026-01-26")  # cured: the episode ends
    s.due("C1", "c1-d3", "2026-02-10", 300)
    s.closes("2026-01-26", "2026-02-20")
    config = write_config(tmp_path / "c.yaml", "delinquency:\n  charge_off_dpd: 5\noutreach:\n  strategy: []\n")
    out = replay_scenario(s, tmp_path / "run", "--config", config)
    assert out.data("delinquency.charged_off", "C1") == [
        {"account_id": "C1", "as_of": "2026-01-15", "dpd": 5, "past_due_minor": 2000},
        {"account_id": "C1", "as_of": "2026-02-15", "dpd": 5, "past_due_minor": 300},
    ]
    assert out.data("delinquency.dpd_changed", "C1") == [
        {"account_id": "C1", "as_of": "2026-01-16", "dpd": 4, "delinquent_since": "2026-01-12", "past_due_minor": 1000}
    ]


def test_cn_preset_edges(tmp_path: Path) -> None:
    s = Scenario("cn")
    s.opened("N1", timezone="Asia/Shanghai")
    s.due("N1", "n1-d1", "2026-01-10", 1000)
    s.closes("2026-01-10", "2026-07-15")
    config = write_config(tmp_path / "c.yaml", "delinquency:\n  buckets: cn\noutreach:\n  strategy: []\n")
    out = replay_scenario(s, tmp_path / "run", "--config", config)
    got = [(b[1], b[3], b[4]) for b in buckets(out, "N1")]
    assert got == [
        (1, "M0", "M1"),
        (31, "M1", "M2"),
        (61, "M2", "M3"),
        (91, "M3", "M4"),
        (121, "M4", "M5"),
        (151, "M5", "M6"),
        (181, "M6", "M6+"),
    ]
    assert [(c["dpd"], c["as_of"]) for c in out.data("delinquency.charged_off", "N1")] == [(180, "2026-07-09")]


def test_a_custom_bucket_list(tmp_path: Path) -> None:
    s = Scenario("cb")
    s.opened("B1")
    s.due("B1", "b1-d1", "2026-01-10", 1000)
    s.opened("B2")
    s.due("B2", "b2-d1", "2026-01-10", 1000)
    s.closes("2026-01-10", "2026-01-13")
    s.paid("B2", "b2-p1", 1000, "2026-01-14")  # cured inside the first bucket
    s.closes("2026-01-14", "2026-01-30")
    config = write_config(
        tmp_path / "c.yaml",
        "delinquency:\n  buckets:\n    - {name: ok, from_dpd: 0}\n    - {name: late, from_dpd: 5}\n"
        "    - {name: bad, from_dpd: 15}\noutreach:\n  strategy: []\n",
    )
    out = replay_scenario(s, tmp_path / "run", "--config", config)
    assert buckets(out, "B1") == [
        ("2026-01-15", 5, "2026-01-10", "ok", "late", 1000),
        ("2026-01-25", 15, "2026-01-10", "late", "bad", 1000),
    ]
    assert buckets(out, "B2") == []
    # Inside the first bucket the episode's start and end are dpd_changed (the bucket did not move).
    assert [(d["as_of"], d["dpd"], d["delinquent_since"]) for d in out.data("delinquency.dpd_changed", "B1")] == [
        ("2026-01-11", 1, "2026-01-10")
    ]
    assert [(d["as_of"], d["dpd"], d["delinquent_since"]) for d in out.data("delinquency.dpd_changed", "B2")] == [
        ("2026-01-11", 1, "2026-01-10"),
        ("2026-01-13", 0, None),
    ]


# -- legal --------------------------------------------------------------------------------------------
DAILY_SMS = (
    "outreach:\n  strategy:\n    - {id: daily-sms, channel: sms, template: reminder, from_dpd: 1, every_days: 1}\n"
)


def requests(out: Output, account: str) -> list[dict[str, Any]]:
    return out.data("outreach.contact_requested", account)


def suppressions(out: Output, account: str) -> list[tuple[str, str]]:
    return [(s["as_of"], s["reason"]) for s in out.data("outreach.contact_suppressed", account)]


def requested_before(out: Output, account: str, on: str) -> int:
    records = out.data("outreach.contact_recorded", account)
    return sum(1 for r in records if r["kind"] == "requested" and r["as_of"] < on)


@pytest.fixture(scope="module")
def legal_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Output, dict[str, dict[str, Any]]]:
    s = Scenario("lg")
    ev: dict[str, dict[str, Any]] = {}
    accounts = ("G1", "G2", "G3", "G3b", "G4", "G4b", "G5", "G6", "G7", "G8")
    for account in accounts:
        if account == "G6":
            s.opened(account, consents={"sms": False, "email": False, "push": False, "autodialed_calls": False})
        else:
            s.opened(account)
        s.due(account, f"{account}-d1", "2026-01-10", 1000)
    s.closes("2026-01-10", "2026-03-31")
    s.flag("G3", "bankruptcy", "2026-04-01T09:00:00Z")
    s.flag("G3b", "deceased", "2026-04-01T09:00:00Z")
    s.result(
        "G5",
        "2026-04-01T10:00:00Z",
        arrangement={
            "kind": "plan",
            "installments": [
                {"due_on": "2026-04-05", "amount_minor": 100},
                {"due_on": "2026-05-05", "amount_minor": 900},
            ],
        },
    )
    s.closes("2026-04-01", "2026-04-04")
    s.paid("G5", "G5-p1", 100, "2026-04-05")
    s.close("2026-04-05")
    ev["g2-dispute"] = s.flag("G2", "dispute", "2026-04-06T09:00:00Z")
    s.closes("2026-04-06", "2026-04-07")
    s.result("G4", "2026-04-08T10:00:00Z", promise={"amount_minor": 500, "promised_on": "2026-04-12"})
    s.result("G4b", "2026-04-08T10:00:00Z", promise={"amount_minor": 300, "promised_on": "2026-04-20"})
    s.close("2026-04-08")
    s.paid("G4b", "G4b-p1", 300, "2026-04-09")
    s.closes("2026-04-09", "2026-04-12")
    ev["g7-bankruptcy"] = s.flag("G7", "bankruptcy", "2026-04-13T08:00:00Z")
    s.closes("2026-04-13", "2026-04-15")
    ev["g2-cleared"] = s.flag("G2", "dispute", "2026-04-16T09:00:00Z", cleared=True)
    ev["g8-deceased"] = s.flag("G8", "deceased", "2026-04-16T09:30:00Z")
    s.closes("2026-04-16", "2026-04-20")
    ev["g7-cleared"] = s.flag("G7", "bankruptcy", "2026-04-21T08:00:00Z", cleared=True)
    ev["g1-cure"] = s.paid("G1", "G1-p1", 1000, "2026-04-21", time="2026-04-21T10:00:00Z")
    s.due("G1", "G1-d2", "2026-05-10", 400)
    s.closes("2026-04-21", "2026-05-15")
    return replay_scenario(s, tmp_path_factory.mktemp("legal") / "run", "--config", _daily(tmp_path_factory)), ev


def _daily(factory: pytest.TempPathFactory) -> Path:
    return write_config(factory.mktemp("legal-config") / "c.yaml", DAILY_SMS)


def cases(out: Output, account: str) -> list[dict[str, Any]]:
    return out.data("legal.case_opened", account)


def test_referral_at_90_dpd_exactly_with_the_contract_fields(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = legal_run
    opened = cases(out, "G1")
    assert len(opened) == 1
    case = opened[0]
    assert {k: case[k] for k in ("as_of", "dpd", "past_due_minor")} == {
        "as_of": "2026-04-10",
        "dpd": 90,
        "past_due_minor": 1000,
    }
    assert case["contact_attempts"] == requested_before(out, "G1", "2026-04-10") == 89
    event = out.of("legal.case_opened", "G1")[0]
    assert event["time"] == "2026-04-10T23:30:00+00:00"


def test_one_case_per_account(legal_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = legal_run
    for account in ("G1", "G2", "G4", "G4b", "G5", "G8"):
        assert len(cases(out, account)) == 1, account


def test_a_case_closed_by_bankruptcy_lifts_the_hold_and_a_cleared_flag_lets_a_new_case_open(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = legal_run
    assert [c["as_of"] for c in cases(out, "G7")] == ["2026-04-10", "2026-04-21"]
    assert [c["reason"] for c in out.data("legal.case_closed", "G7")] == ["bankruptcy"]
    reasons = dict(suppressions(out, "G7"))
    assert [reasons[day("2026-04-11", n)] for n in range(2)] == ["legal_hold", "legal_hold"]
    assert {reasons[day("2026-04-13", n)] for n in range(8)} == {"bankruptcy"}
    assert "2026-04-21" not in reasons
    assert [r["as_of"] for r in requests(out, "G7") if r["as_of"] >= "2026-04-10"] == ["2026-04-10", "2026-04-21"]
    assert {reasons[day("2026-04-22", n)] for n in range(24)} == {"legal_hold"}
    check_envelopes(out)


def test_legal_hold_from_the_first_evaluation_after_the_case_and_lifted_after_its_close(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, ev = legal_run
    asked = [r["as_of"] for r in requests(out, "G1")]
    assert "2026-04-10" in asked and "2026-04-11" not in asked
    held = [on for on, reason in suppressions(out, "G1") if reason == "legal_hold"]
    assert held == [day("2026-04-11", n) for n in range(10)]
    closed = out.of("legal.case_closed", "G1")
    assert [c["data"]["reason"] for c in closed] == ["cured"]
    assert closed[0]["data"]["as_of"] == "2026-04-20" and closed[0]["time"] == ev["g1-cure"]["time"]
    assert closed[0]["data"]["case_id"] == cases(out, "G1")[0]["case_id"]
    # A new episode after the cure is contacted again: the hold is gone.
    assert [r["as_of"] for r in requests(out, "G1") if r["as_of"] > "2026-05-01"][:1] == ["2026-05-11"]
    assert not [on for on, reason in suppressions(out, "G1") if on > "2026-04-21"]


def test_blocking_flags_stop_referral_and_a_cleared_dispute_lets_it_happen(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = legal_run
    assert cases(out, "G3") == [] and cases(out, "G3b") == []
    case = cases(out, "G2")[0]
    assert case["as_of"] == "2026-04-16" and case["dpd"] == 96
    assert case["contact_attempts"] == requested_before(out, "G2", "2026-04-16") == 85


def test_an_active_promise_delays_referral_until_it_is_broken(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = legal_run
    assert [p["promised_on"] for p in out.data("outreach.promise_broken", "G4")] == ["2026-04-12"]
    assert cases(out, "G4")[0]["as_of"] == "2026-04-13"
    assert cases(out, "G4")[0]["dpd"] == 93


def test_a_kept_promise_does_not_block(legal_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = legal_run
    assert len(out.data("outreach.promise_kept", "G4b")) == 1
    case = cases(out, "G4b")[0]
    assert (case["as_of"], case["dpd"], case["past_due_minor"]) == ("2026-04-10", 90, 700)


def test_an_active_arrangement_blocks_until_broken_at_a_close_before(
    legal_run: tuple[Output, dict[str, dict[str, Any]]],
) -> None:
    out, _ = legal_run
    broken = out.data("outreach.arrangement_broken", "G5")
    assert [(b["as_of"], b["installment"]) for b in broken] == [("2026-05-10", 2)]
    case = cases(out, "G5")[0]
    assert (case["as_of"], case["dpd"], case["past_due_minor"]) == ("2026-05-11", 121, 900)


def test_no_referral_without_enough_requested_contacts(legal_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, _ = legal_run
    assert requests(out, "G6") == [] and suppressions(out, "G6")
    assert cases(out, "G6") == []


def test_bankruptcy_and_deceased_close_an_open_case(legal_run: tuple[Output, dict[str, dict[str, Any]]]) -> None:
    out, ev = legal_run
    for account, reason, cause, as_of in (
        ("G7", "bankruptcy", ev["g7-bankruptcy"], "2026-04-12"),
        ("G8", "deceased", ev["g8-deceased"], "2026-04-15"),
    ):
        closed = out.of("legal.case_closed", account)
        assert [c["data"]["reason"] for c in closed] == [reason]
        assert closed[0]["data"]["as_of"] == as_of
        assert closed[0]["time"] == cause["time"]
        assert closed[0]["data"]["case_id"] == cases(out, account)[0]["case_id"]


def test_requests_of_the_referral_day_do_not_count(tmp_path: Path) -> None:
    s = Scenario("edge")
    s.opened("E1")
    s.due("E1", "e1-d1", "2026-01-10", 1000)
    s.opened("E2", consents={"sms": True, "email": True, "push": False, "autodialed_calls": False})
    s.due("E2", "e2-d1", "2026-01-10", 1000)
    s.closes("2026-01-10", "2026-01-20")
    config = write_config(
        tmp_path / "c.yaml",
        "legal:\n  referral_dpd: 1\n  min_contact_attempts: 2\noutreach:\n  strategy:\n"
        "    - {id: sms-reminder, channel: sms, template: reminder, from_dpd: 1}\n"
        "    - {id: push-reminder, channel: push, template: reminder, from_dpd: 1}\n",
    )
    out = replay_scenario(s, tmp_path / "run", "--config", config)
    assert [(r["as_of"], r["step"]) for r in requests(out, "E1")] == [
        ("2026-01-11", "sms-reminder"),
        ("2026-01-11", "push-reminder"),
    ]
    case = cases(out, "E1")
    assert [(c["as_of"], c["dpd"], c["contact_attempts"]) for c in case] == [("2026-01-12", 2, 2)]
    assert cases(out, "E2") == []


def test_referral_not_at_89_dpd_with_the_default_strategy(tmp_path: Path) -> None:
    s = Scenario("def")
    s.opened("F1")
    s.due("F1", "f1-d1", "2026-01-10", 1000)
    s.closes("2026-01-10", "2026-04-10")
    out = replay_scenario(s, tmp_path / "run")
    case = cases(out, "F1")
    assert [(c["as_of"], c["dpd"]) for c in case] == [("2026-04-10", 90)]
    assert case[0]["contact_attempts"] == requested_before(out, "F1", "2026-04-10")
    before = [e for e in out.events if e["type"] == "legal.case_opened"]
    assert out.events.index(before[0]) > max(
        i for i, e in enumerate(out.events) if e["type"] == "delinquency.bucket_changed"
    )


def test_unquoted_yaml_times_are_times_not_base_60_numbers(tiny_input: Path, tmp_path: Path) -> None:
    # YAML 1.1 reads 21:00 as the integer 1260; the config file is read as YAML 1.2 would.
    config = write_config(tmp_path / "c.yaml", "outreach:\n  window: {start: 09:30, end: 21:00}\n")
    done = run_replay(tiny_input, "--out", tmp_path / "o.jsonl", "--config", config)
    assert done.returncode == 0, done.stderr
    asked = Output.read(tmp_path / "o.jsonl").data("outreach.contact_requested", "T1")
    assert asked and {(r["not_before"], r["not_after"]) for r in asked} == {
        ("2026-01-12T09:30:00Z", "2026-01-12T21:00:00Z")
    }


def test_a_line_that_is_not_utf8_is_one_rejection_and_a_bom_is_ignored(tmp_path: Path) -> None:
    s = Scenario("enc")
    s.opened("U1")
    s.due("U1", "u1-d1", "2026-01-10", 100)
    s.close("2026-01-11")
    lines = [line.encode() for line in s.lines]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + lines[0] + b"\r\n" + lines[1] + b"\n\xff\xfe\x00bad\n" + lines[2] + b"\n")
    done = run_replay(source, "--out", tmp_path / "o.jsonl")
    assert done.returncode == 0, done.stderr
    out = Output.read(tmp_path / "o.jsonl")
    assert [(r["line"], r["event_id"], r["type"]) for r in out.data("system.event_rejected")] == [(3, None, None)]
    assert out.of("delinquency.bucket_changed", "U1") and out.of("outreach.contact_requested", "U1")


def test_a_completed_settlement_forgives_the_dues_on_or_before_its_day(tmp_path: Path) -> None:
    s = Scenario("set")
    s.opened("W1")
    s.due("W1", "w1-d1", "2026-01-10", 1000, statement=2000)
    s.due("W1", "w1-d2", "2026-02-10", 1000, statement=2000)
    s.closes("2026-01-10", "2026-02-19")
    s.result(
        "W1",
        "2026-02-20T10:00:00Z",
        arrangement={
            "kind": "settlement",
            "installments": [
                {"due_on": "2026-02-25", "amount_minor": 600},
                {"due_on": "2026-03-05", "amount_minor": 600},
            ],
        },
    )
    s.closes("2026-02-20", "2026-02-24")
    s.paid("W1", "w1-p1", 600, "2026-02-25")
    s.due("W1", "w1-d3", "2026-03-01", 500, statement=1300)
    s.closes("2026-02-25", "2026-03-04")
    done = s.paid("W1", "w1-p2", 600, "2026-03-05")
    s.closes("2026-03-05", "2026-03-06")
    last = s.paid("W1", "w1-p3", 500, "2026-03-07")
    out = replay_scenario(s, tmp_path / "run")
    # The waiver stays posted: the last payment clears everything and cures the account.
    final = [e for e in out.about("W1") if e["time"] == last["time"]]
    assert [e["type"] for e in final] == ["ledger.balance_changed", "delinquency.bucket_changed"]
    assert unpaid(final[0]) == [] and final[0]["data"]["credit_minor"] == 0
    assert final[1]["data"]["to_bucket"] == "current" and final[1]["data"]["as_of"] == "2026-03-06"
    made = out.data("outreach.arrangement_made", "W1")
    assert [m["made_on"] for m in made] == ["2026-02-20"]
    arrangement_id = made[0]["arrangement_id"]
    assert out.data("ledger.waiver_posted", "W1")[0] | {"dues": None} == {
        "account_id": "W1",
        "arrangement_id": arrangement_id,
        "amount_minor": 800,
        "dues": None,
    }
    after = [e for e in out.about("W1") if e["time"] == done["time"]]
    kinds = [e["type"] for e in after]
    waiver_at = kinds.index("ledger.waiver_posted")
    assert kinds[waiver_at + 1] == "ledger.balance_changed"
    assert unpaid(after[waiver_at + 1]) == [("w1-d3", "2026-03-01", 500)]
    assert after[waiver_at + 1]["data"]["credit_minor"] == 0
    # Still late on the March due, due after the settlement was made: 3 dpd as of the last close.
    assert [e["type"] for e in after[waiver_at + 2 :]] == ["delinquency.dpd_changed"]
    assert after[waiver_at + 2]["data"] == {
        "account_id": "W1",
        "as_of": "2026-03-04",
        "dpd": 3,
        "delinquent_since": "2026-03-01",
        "past_due_minor": 500,
    }
    check_envelopes(out)
