"""Outreach's state of one account, as frozen values with a JSON form (one snapshot per account).

Dates are business/calendar dates (`date`); instants are RFC 3339 strings kept as given. Money is
integer minor units. Personal data (phones, emails, postal address) lives here because outreach
must address contacts, but it is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from collections_outreach.domain.window import UTC_ZONE, local_date

PromiseStatus = Literal["active", "kept", "broken"]
ArrangementStatus = Literal["active", "completed", "broken"]


@dataclass(frozen=True)
class Profile:
    """What `account.opened`/`account.contacts_updated` said: where and when the customer may be reached."""

    customer_id: str
    timezone: str
    phones: tuple[tuple[str, str], ...] = ()
    """(number, kind) pairs in the order given; kind is `mobile`, `home` or `work`."""
    emails: tuple[str, ...] = ()
    postal_address: str | None = None
    consents: tuple[tuple[str, bool], ...] = ()
    """(consent, granted) pairs: `sms`, `email`, `push`, `autodialed_calls`."""

    def consent(self, name: str) -> bool:
        """Whether the customer granted consent `name` (False when not given)."""
        return dict(self.consents).get(name, False)


@dataclass(frozen=True)
class PaymentRecord:
    """A payment outreach has seen: `amount_minor` received on `received_on`; inactive once reversed."""

    amount_minor: int
    received_on: date
    active: bool = True


@dataclass(frozen=True)
class Promise:
    """A promise to pay `amount_minor` by the close of `promised_on`, made on local date `day`."""

    promise_id: str
    amount_minor: int
    promised_on: date
    day: date
    counted: tuple[tuple[str, int], ...] = ()
    """(payment_id, amount_minor) of the payments counted toward it."""
    status: PromiseStatus = "active"

    @property
    def counted_minor(self) -> int:
        """What the counted payments add up to."""
        return sum(a for _, a in self.counted)


@dataclass(frozen=True)
class Arrangement:
    """A payment plan or settlement made on local date `made_on` (behaviour.md, Arrangements)."""

    arrangement_id: str
    kind: str
    installments: tuple[tuple[date, int], ...]
    """(due_on, amount_minor) in strictly increasing `due_on` order."""
    made_on: date
    counted: tuple[tuple[str, int], ...] = ()
    status: ArrangementStatus = "active"
    ended_as_of: date | None = None
    """For a broken one: the close that broke it."""
    broken_installment: int | None = None

    @property
    def total_minor(self) -> int:
        """The sum of the installments."""
        return sum(a for _, a in self.installments)

    @property
    def counted_minor(self) -> int:
        """What the counted payments add up to."""
        return sum(a for _, a in self.counted)


@dataclass(frozen=True)
class AccountState:
    """Everything outreach knows of one account (the snapshot's content).

    `delinquent_since` is the last one delinquency published (null: current); the account is in an
    episode while it is not null (docs/decisions/0001). `fired` maps a step id to the last business
    date it fired in the current episode (suppressed firings included).
    """

    account_id: str
    profile: Profile | None = None
    flags: frozenset[str] = frozenset()
    delinquent_since: date | None = None
    episode: int = 0
    evaluated_on: date | None = None
    """The last close evaluated with the steps (once per business date)."""
    settled_on: date | None = None
    """The last close at which promises and arrangements were settled."""
    fired: tuple[tuple[str, date], ...] = ()
    payments: tuple[tuple[str, PaymentRecord], ...] = ()
    statements: tuple[tuple[str, date, int], ...] = ()
    """(due_id, due_date, statement_balance_minor) of every `payment.due`."""
    promises: tuple[Promise, ...] = ()
    arrangements: tuple[Arrangement, ...] = ()
    rpc_at: tuple[str, ...] = ()
    """`occurred_at` instants of `answered_rpc` results."""
    rpc_days: tuple[date, ...] = ()
    """Local days of the `answered_rpc` results, fixed with the timezone the account had when each
    was recorded (behaviour.md, rpc_cooldown): a later timezone change does not move a cooldown."""
    call_windows: tuple[date, ...] = ()
    """Local dates of the windows of the call requests made (for the frequency cap)."""
    open_cases: tuple[tuple[str, date], ...] = ()
    """(case_id, as_of) of open legal cases."""
    trail_sequence: int = 0
    """The newest trail record's sequence (0: empty), kept with the trail in one transaction."""
    trail_hash: str = "0" * 64
    """The newest trail record's hash (64 zeros: empty)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_episode(self) -> bool:
        """Whether the account is past due (docs/decisions/0001)."""
        return self.delinquent_since is not None

    def dpd(self, as_of: date) -> int:
        """Days past due at business date `as_of` (0 outside an episode)."""
        return (as_of - self.delinquent_since).days if self.delinquent_since else 0

    @property
    def active_arrangement(self) -> Arrangement | None:
        """The arrangement being followed, if any (one at a time)."""
        return next((a for a in self.arrangements if a.status == "active"), None)

    @property
    def active_promises(self) -> tuple[Promise, ...]:
        """The unsettled promises."""
        return tuple(p for p in self.promises if p.status == "active")

    def last_fired(self, step_id: str) -> date | None:
        """When step `step_id` last fired in this episode."""
        return dict(self.fired).get(step_id)


# -- JSON form ----------------------------------------------------------------------------------
def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _s(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _rpc_days(raw: dict[str, Any], profile: Profile | None) -> tuple[date, ...]:
    # Snapshots written before `rpc_days` existed: the days in the timezone known now (the best left).
    if "rpc_days" in raw:
        return tuple(date.fromisoformat(d) for d in raw["rpc_days"])
    zone = profile.timezone if profile else UTC_ZONE
    return tuple(local_date(instant, zone) for instant in raw["rpc_at"])


def to_json(state: AccountState) -> dict[str, Any]:
    """The snapshot form of `state`: JSON types only (dates as ISO strings)."""
    p = state.profile
    return {
        "account_id": state.account_id,
        "profile": None
        if p is None
        else {
            "customer_id": p.customer_id,
            "timezone": p.timezone,
            "phones": [list(x) for x in p.phones],
            "emails": list(p.emails),
            "postal_address": p.postal_address,
            "consents": [list(x) for x in p.consents],
        },
        "flags": sorted(state.flags),
        "delinquent_since": _s(state.delinquent_since),
        "episode": state.episode,
        "evaluated_on": _s(state.evaluated_on),
        "settled_on": _s(state.settled_on),
        "fired": [[k, v.isoformat()] for k, v in state.fired],
        "payments": [[k, v.amount_minor, v.received_on.isoformat(), v.active] for k, v in state.payments],
        "statements": [[k, d.isoformat(), b] for k, d, b in state.statements],
        "promises": [
            {
                "promise_id": x.promise_id,
                "amount_minor": x.amount_minor,
                "promised_on": x.promised_on.isoformat(),
                "day": x.day.isoformat(),
                "counted": [list(c) for c in x.counted],
                "status": x.status,
            }
            for x in state.promises
        ],
        "arrangements": [
            {
                "arrangement_id": a.arrangement_id,
                "kind": a.kind,
                "installments": [[d.isoformat(), m] for d, m in a.installments],
                "made_on": a.made_on.isoformat(),
                "counted": [list(c) for c in a.counted],
                "status": a.status,
                "ended_as_of": _s(a.ended_as_of),
                "broken_installment": a.broken_installment,
            }
            for a in state.arrangements
        ],
        "rpc_at": list(state.rpc_at),
        "rpc_days": [d.isoformat() for d in state.rpc_days],
        "call_windows": [d.isoformat() for d in state.call_windows],
        "open_cases": [[c, d.isoformat()] for c, d in state.open_cases],
        "trail_sequence": state.trail_sequence,
        "trail_hash": state.trail_hash,
        "extra": dict(state.extra),
    }


def from_json(raw: dict[str, Any]) -> AccountState:
    """The state stored by `to_json`."""
    p = raw.get("profile")
    profile = (
        None
        if p is None
        else Profile(
            customer_id=p["customer_id"],
            timezone=p["timezone"],
            phones=tuple((n, k) for n, k in p["phones"]),
            emails=tuple(p["emails"]),
            postal_address=p["postal_address"],
            consents=tuple((c, bool(g)) for c, g in p["consents"]),
        )
    )
    return AccountState(
        account_id=raw["account_id"],
        profile=profile,
        flags=frozenset(raw["flags"]),
        delinquent_since=_d(raw["delinquent_since"]),
        episode=raw["episode"],
        evaluated_on=_d(raw["evaluated_on"]),
        settled_on=_d(raw["settled_on"]),
        fired=tuple((k, date.fromisoformat(v)) for k, v in raw["fired"]),
        payments=tuple((k, PaymentRecord(m, date.fromisoformat(r), bool(a))) for k, m, r, a in raw["payments"]),
        statements=tuple((k, date.fromisoformat(d), b) for k, d, b in raw["statements"]),
        promises=tuple(
            Promise(
                promise_id=x["promise_id"],
                amount_minor=x["amount_minor"],
                promised_on=date.fromisoformat(x["promised_on"]),
                day=date.fromisoformat(x["day"]),
                counted=tuple((c, m) for c, m in x["counted"]),
                status=x["status"],
            )
            for x in raw["promises"]
        ),
        arrangements=tuple(
            Arrangement(
                arrangement_id=a["arrangement_id"],
                kind=a["kind"],
                installments=tuple((date.fromisoformat(d), m) for d, m in a["installments"]),
                made_on=date.fromisoformat(a["made_on"]),
                counted=tuple((c, m) for c, m in a["counted"]),
                status=a["status"],
                ended_as_of=_d(a["ended_as_of"]),
                broken_installment=a["broken_installment"],
            )
            for a in raw["arrangements"]
        ),
        rpc_at=tuple(raw["rpc_at"]),
        rpc_days=_rpc_days(raw, profile),
        call_windows=tuple(date.fromisoformat(d) for d in raw["call_windows"]),
        open_cases=tuple((c, date.fromisoformat(d)) for c, d in raw["open_cases"]),
        trail_sequence=int(raw.get("trail_sequence", 0)),
        trail_hash=str(raw.get("trail_hash", "0" * 64)),
        extra=dict(raw.get("extra", {})),
    )
