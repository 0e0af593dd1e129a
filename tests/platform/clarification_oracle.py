"""Independent checks of behaviour.md's clarified rules over one replayed run (issue 15).

Each check reads the input lines and the published events and returns the violations it found, as
readable lines, plus how many times it saw its rule apply (so a run that never exercised a rule
shows it). They re-derive each rule from the spec's text, not from the services' code:
- ledger: `payment_id` as business key (same amount: nothing; another amount while standing:
  rejected; after a reversal: applies again), reversals (of an unknown payment: rejected; of a
  reversed one: nothing), the pooled oldest-first allocation, `balance_changed` exactly when the
  balance moves, a settlement's waiver (the remainder of dues due on or before `made_on`; 0 posted,
  and no `balance_changed`, when nothing is left).
- destination: an sms to the first mobile, a call to the first mobile else home else work, a push
  to the customer id, an email to the first address, a letter to the postal address; `no_destination`
  exactly when there is none.
- rpc cooldown: no call whose window day lies in the 7 days beginning with the local day of an
  `answered_rpc` result, that day taken in the timezone of when the result was recorded; and a
  `rpc_cooldown` suppression only inside such days.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Event = dict[str, Any]


@dataclass
class Run:
    """The input lines, the published events, and the input line at the root of each published event."""

    inputs: list[Event]
    outputs: list[Event]
    root: list[int] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        line_of = {e["time"]: i for i, e in enumerate(self.inputs)}
        assert len(line_of) == len(self.inputs), "input times must be unique (the checks map causes by time)"
        self.root = [line_of[e["time"]] for e in self.outputs]
        self.rejected = {e["data"]["event_id"] for e in self.outputs if e["type"] == "system.event_rejected"}


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)


# -- ledger ----------------------------------------------------------------------------------------
@dataclass
class _Ledger:
    dues: dict[str, tuple[date, int]] = field(default_factory=dict)
    standing: dict[str, int] = field(default_factory=dict)  # payment_id -> amount
    reversed: set[str] = field(default_factory=set)
    waived: Counter[str] = field(default_factory=Counter)

    def allocation(self) -> tuple[list[tuple[str, date, int]], int]:
        money = sum(self.standing.values())
        unpaid = []
        for due_id, (on, amount) in sorted(self.dues.items(), key=lambda kv: (kv[1][0], kv[0])):
            owed = amount - min(self.waived[due_id], amount)
            paid = min(money, owed)
            money -= paid
            if paid < owed:
                unpaid.append((due_id, on, owed - paid))
        return unpaid, money

    def balance(self) -> tuple[tuple[tuple[str, str, int], ...], int]:
        unpaid, credit = self.allocation()
        return tuple((d, on.isoformat(), left) for d, on, left in unpaid), credit


def check_ledger(run: Run) -> Findings:
    """The ledger's business keys, reversals, allocation and settlement waivers (behaviour.md, Ledger, Arrangements)."""
    found = Findings()
    timeline: dict[str, list[tuple[int, int, Event]]] = defaultdict(list)
    for i, e in enumerate(run.inputs):
        if e["type"].startswith("payment."):
            timeline[e["subject"]].append((i, -1, e))
    published: dict[str, list[Event]] = defaultdict(list)  # by cause id
    waivers: dict[str, list[Event]] = defaultdict(list)
    for n, e in enumerate(run.outputs):
        if e["type"] == "outreach.arrangement_completed" and e["data"]["kind"] == "settlement":
            timeline[e["subject"]].append((run.root[n], n, e))
        elif e["type"] == "ledger.balance_changed":
            published[e["data"]["cause_id"]].append(e)
        elif e["type"] == "ledger.waiver_posted":
            waivers[e["data"]["arrangement_id"]].append(e)
    for account, items in timeline.items():
        _walk_account(account, sorted(items, key=lambda t: (t[0], t[1])), run, published, waivers, found)
    return found


def _walk_account(
    account: str,
    items: list[tuple[int, int, Event]],
    run: Run,
    published: dict[str, list[Event]],
    waivers: dict[str, list[Event]],
    found: Findings,
) -> None:
    ledger, last = _Ledger(), ((), 0)
    for _, _, e in items:
        data, expect_rejected = e["data"], False
        if e["type"] == "payment.due":
            ledger.dues.setdefault(data["due_id"], (date.fromisoformat(data["due_date"]), data["amount_due_minor"]))
        elif e["type"] == "payment.received":
            expect_rejected = _receive(ledger, data, found)
        elif e["type"] == "payment.reversed":
            expect_rejected = _reverse(ledger, data, found)
        else:
            _waive(ledger, e, waivers, found)
        if e["type"].startswith("payment.") and (e["id"] in run.rejected) != expect_rejected:
            found.violations.append(
                f"{e['type']} {e['id']} of {account}: rejected={e['id'] in run.rejected}, "
                f"the rule says rejected={expect_rejected}"
            )
        now = ledger.balance()
        changes = published.get(e["id"], [])
        if now != last:
            want = {
                "unpaid_dues": [{"due_id": d, "due_date": on, "unpaid_minor": m} for d, on, m in now[0]],
                "credit_minor": now[1],
            }
            got = [{k: c["data"][k] for k in ("unpaid_dues", "credit_minor")} for c in changes]
            if got != [want]:
                found.violations.append(f"{account} after {e['type']} {e['id']}: published {got}, expected [{want}]")
            found.seen["balance moved"] += 1
        elif changes:
            found.violations.append(f"{account}: balance_changed after {e['type']} {e['id']} that moved nothing")
        last = now


def _receive(ledger: _Ledger, data: dict[str, Any], found: Findings) -> bool:
    pid, amount = data["payment_id"], data["amount_minor"]
    if pid in ledger.standing:
        same = ledger.standing[pid] == amount
        found.seen["same payment_id, same amount" if same else "same payment_id, other amount"] += 1
        return ledger.standing[pid] != amount
    if pid in ledger.reversed:
        found.seen["re-presented after its reversal"] += 1
        ledger.reversed.discard(pid)
    ledger.standing[pid] = amount
    return False


def _reverse(ledger: _Ledger, data: dict[str, Any], found: Findings) -> bool:
    pid = data["payment_id"]
    if pid in ledger.standing:
        del ledger.standing[pid]
        ledger.reversed.add(pid)
        found.seen["reversal"] += 1
        return False
    found.seen["reversal of a reversed payment" if pid in ledger.reversed else "reversal of an unknown payment"] += 1
    return pid not in ledger.reversed


def _waive(ledger: _Ledger, completed: Event, waivers: dict[str, list[Event]], found: Findings) -> None:
    made_on = date.fromisoformat(completed["data"]["made_on"])
    unpaid, _ = ledger.allocation()
    per_due = {d: left for d, on, left in unpaid if on <= made_on}
    posted = waivers.get(completed["data"]["arrangement_id"], [])
    amounts = [w["data"]["amount_minor"] for w in posted]
    if amounts != [sum(per_due.values())]:
        found.violations.append(
            f"settlement {completed['data']['arrangement_id']}: waivers {amounts}, expected [{sum(per_due.values())}]"
        )
    found.seen["settlement waiver of 0" if not per_due else "settlement waiver"] += 1
    ledger.waived.update(per_due)


# -- destinations and the rpc cooldown -------------------------------------------------------------
def _profiles(run: Run) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Per account, (input line, profile known from that line on): customer id, timezone, contacts."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, e in enumerate(run.inputs):
        if e["id"] in run.rejected:
            continue
        if e["type"] == "account.opened":
            out[e["subject"]].append((i, dict(e["data"])))
        elif e["type"] == "account.contacts_updated" and out[e["subject"]]:
            out[e["subject"]].append((i, {**out[e["subject"]][-1][1], **e["data"]}))
    return out


def _profile_at(profiles: list[tuple[int, dict[str, Any]]], line: int) -> dict[str, Any]:
    known = [p for i, p in profiles if i < line]
    return known[-1] if known else {}


def destination(profile: dict[str, Any], channel: str) -> str | None:
    """Where a contact goes (behaviour.md, Outreach, `no_destination`), None when nowhere."""
    contacts = profile.get("contacts") or {}
    phones = contacts.get("phones") or []

    def first(kind: str) -> str | None:
        return next((p["number"] for p in phones if p["kind"] == kind), None)

    if channel == "sms":
        return first("mobile")
    if channel == "call":
        return first("mobile") or first("home") or first("work")
    if channel == "push":
        return profile.get("customer_id")
    if channel == "email":
        return (contacts.get("emails") or [None])[0]
    return contacts.get("postal_address")


def check_destinations(run: Run) -> Findings:
    """Every request goes to the rule's destination; `no_destination` exactly when there is none."""
    found, profiles = Findings(), _profiles(run)
    for n, e in enumerate(run.outputs):
        data = e["data"]
        if e["type"] == "outreach.contact_requested":
            want = destination(_profile_at(profiles[e["subject"]], run.root[n]), data["channel"])
            found.seen[f"{data['channel']} requested"] += 1
            if data["destination"] != want:
                found.violations.append(
                    f"{data['attempt_id']}: {data['channel']} to a destination other than the "
                    f"rule's (expected {'none' if want is None else 'another'})"
                )
        elif e["type"] == "outreach.contact_suppressed" and data["reason"] == "no_destination":
            want = destination(_profile_at(profiles[e["subject"]], run.root[n]), data["channel"])
            found.seen[f"{data['channel']} no_destination"] += 1
            if want is not None:
                found.violations.append(f"{e['subject']}: {data['channel']} suppressed no_destination with one known")
    return found


def check_rpc_cooldown(run: Run, cooldown_days: int = 7) -> Findings:
    """Calls stay out of the cooldown days, whose start is fixed in the timezone of the result's recording."""
    found, profiles = Findings(), _profiles(run)
    rpc_days: dict[str, list[tuple[int, date]]] = defaultdict(list)
    for i, e in enumerate(run.inputs):
        rpc = e["type"] == "contact.result_reported" and e["data"]["outcome"] == "answered_rpc"
        if rpc and e["id"] not in run.rejected:
            zone = ZoneInfo(_profile_at(profiles[e["subject"]], i)["timezone"])
            when = datetime.fromisoformat(e["data"]["occurred_at"].replace("Z", "+00:00"))
            rpc_days[e["subject"]].append((i, when.astimezone(zone).date()))
    closes = [
        (i, date.fromisoformat(e["data"]["as_of"])) for i, e in enumerate(run.inputs) if e["type"] == "day.closed"
    ]
    last = timedelta(days=cooldown_days - 1)
    for n, e in enumerate(run.outputs):
        if e["data"].get("channel") != "call":
            continue
        if e["type"] == "outreach.contact_requested":
            window_day = date.fromisoformat(e["data"]["as_of"]) + timedelta(days=1)
        elif e["type"] == "outreach.contact_suppressed":
            window_day = max(on for i, on in closes if i <= run.root[n]) + timedelta(days=1)
        else:
            continue
        cooling = [d for i, d in rpc_days[e["subject"]] if i < run.root[n] and d <= window_day <= d + last]
        if e["type"] == "outreach.contact_requested":
            found.seen["call requested"] += 1
            if cooling:
                attempt = e["data"]["attempt_id"]
                found.violations.append(f"{attempt}: call for {window_day} inside the cooldown from {cooling[0]}")
        elif e["data"]["reason"] == "rpc_cooldown":
            found.seen["rpc_cooldown"] += 1
            if not cooling:
                found.violations.append(f"{e['subject']}: rpc_cooldown for {window_day} with no cooldown covering it")
    for account, days in rpc_days.items():
        found.seen["rpc results"] += len(days)
        zones = {p.get("timezone") for _, p in profiles[account]}
        found.seen["rpc results on accounts that changed timezone"] += len(days) if len(zones) > 1 else 0
    return found


# -- arrangements ----------------------------------------------------------------------------------
@dataclass
class _Arrangement:
    made: Event
    line: int
    counted: dict[str, int] = field(default_factory=dict)  # payment_id -> amount counted

    def cumulative(self) -> list[tuple[int, date, int]]:
        out, total = [], 0
        for i, inst in enumerate(self.made["data"]["installments"], start=1):
            total += inst["amount_minor"]
            out.append((i, date.fromisoformat(inst["due_on"]), total))
        return out


def check_arrangements(run: Run, grace_days: int = 5) -> Findings:
    """Completion at once, breaking at the close of `due_on` + grace, and a reversal that un-meets an
    installment past its grace breaking it at the next close, not at the reversal (behaviour.md, Arrangements)."""
    found = Findings()
    made = {n: e for n, e in enumerate(run.outputs) if e["type"] == "outreach.arrangement_made"}
    starts: dict[int, list[Event]] = defaultdict(list)
    for n, e in made.items():
        starts[run.root[n]].append(e)
    ends = {
        (e["type"], e["data"]["arrangement_id"]): (run.root[n], e)
        for n, e in enumerate(run.outputs)
        if e["type"] in ("outreach.arrangement_broken", "outreach.arrangement_completed")
    }
    active: dict[str, list[_Arrangement]] = defaultdict(list)
    standing: dict[str, dict[str, int]] = defaultdict(dict)
    expected: dict[tuple[str, str], tuple[int, Any]] = {}
    for i, e in enumerate(run.inputs):
        data = e["data"]
        if e["id"] in run.rejected:
            pass
        elif e["type"] == "payment.received" and data["payment_id"] not in standing[e["subject"]]:
            standing[e["subject"]][data["payment_id"]] = data["amount_minor"]
            for a in active[e["subject"]]:
                if data["received_on"] >= a.made["data"]["made_on"]:
                    a.counted[data["payment_id"]] = data["amount_minor"]
        elif e["type"] == "payment.reversed" and standing[e["subject"]].pop(data["payment_id"], None) is not None:
            for a in active[e["subject"]]:
                if a.counted.pop(data["payment_id"], None) is not None:
                    found.seen["reversal of a counted payment"] += 1
        elif e["type"] == "day.closed":
            _close(active, date.fromisoformat(data["as_of"]), i, grace_days, expected, found)
        for a in list(active[e["subject"]]) if e["type"] != "day.closed" else []:
            if sum(a.counted.values()) >= a.cumulative()[-1][2]:
                active[e["subject"]].remove(a)
                expected[("outreach.arrangement_completed", a.made["data"]["arrangement_id"])] = (i, None)
        for m in starts.get(i, []):
            active[m["subject"]].append(_Arrangement(m, i))
    for key, (line, fields) in expected.items():
        got = ends.get(key)
        found.seen[key[0].split(".")[1]] += 1
        if got is None or got[0] != line or (fields is not None and {k: got[1]["data"][k] for k in fields} != fields):
            found.violations.append(
                f"{key}: expected at input line {line} {fields or ''}, "
                f"published {None if got is None else (got[0], got[1]['data'])}"
            )
    for key in ends.keys() - expected.keys():
        found.violations.append(f"{key}: published, but the rules give no such end")
    return found


def _close(
    active: dict[str, list[_Arrangement]],
    on: date,
    line: int,
    grace_days: int,
    expected: dict[tuple[str, str], tuple[int, Any]],
    found: Findings,
) -> None:
    for arrangements in active.values():
        for a in list(arrangements):
            paid = sum(a.counted.values())
            unmet = [
                (i, due_on, total)
                for i, due_on, total in a.cumulative()
                if due_on + timedelta(days=grace_days) <= on and paid < total
            ]
            if not unmet:
                continue
            i, due_on, total = unmet[0]
            if due_on + timedelta(days=grace_days) < on:
                found.seen["broken after its grace had ended (a reversal)"] += 1
            fields = {"as_of": on.isoformat(), "installment": i, "paid_minor": paid, "expected_minor": total}
            expected[("outreach.arrangement_broken", a.made["data"]["arrangement_id"])] = (line, fields)
            arrangements.remove(a)
