"""LegalAccount to and from the JSON object kept in its snapshot (dates as ISO strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from collections_legal.domain.account import (
    Arrangement,
    Decline,
    LegalAccount,
    OpenPlacement,
    Payment,
    Promise,
    UnpaidDue,
)


def to_state(account: LegalAccount) -> dict[str, Any]:
    """The snapshot JSON of `account`."""
    return {
        "account_id": account.account_id,
        "unpaid_dues": [
            {"due_id": d.due_id, "due_date": d.due_date.isoformat(), "unpaid_minor": d.unpaid_minor}
            for d in account.unpaid_dues
        ],
        "flags": sorted(account.flags),
        "promises": [
            {
                "promise_id": p.promise_id,
                "amount_minor": p.amount_minor,
                "promised_on": p.promised_on.isoformat(),
                "status": p.status,
            }
            for p in account.promises
        ],
        "arrangements": [
            {
                "arrangement_id": a.arrangement_id,
                "kind": a.kind,
                "made_on": a.made_on.isoformat(),
                "total_minor": a.total_minor,
                "installments": a.installments,
                "status": a.status,
                "ended_as_of": _iso(a.ended_as_of),
                "installment": a.installment,
                "paid_minor": a.paid_minor,
            }
            for a in account.arrangements
        ],
        "declines": [{"kind": d.kind, "reason": d.reason, "at": d.at} for d in account.declines],
        "requests": [[on.isoformat(), count] for on, count in account.requests],
        "open_case_id": account.open_case_id,
        "hold_until_cure": account.hold_until_cure,
        **_placement_state(account),
    }


def _placement_state(account: LegalAccount) -> dict[str, Any]:
    # Only accounts that have met an agency or paid carry these keys (older snapshots lack them).
    out: dict[str, Any] = {}
    p = account.placement
    if p is not None:
        out["placement"] = {
            "placement_id": p.placement_id,
            "agency_id": p.agency_id,
            "as_of": p.as_of.isoformat(),
            "recall_on": p.recall_on.isoformat(),
            "commission_pct": str(p.commission_pct),
            "checked_on": p.checked_on.isoformat(),
        }
    if account.placed_in_episode:
        out["placed_in_episode"] = True
    if account.payments:
        out["payments"] = [
            [x.payment_id, x.amount_minor, x.received_on.isoformat(), x.standing] for x in account.payments
        ]
    return out


def _placement(raw: dict[str, Any] | None) -> OpenPlacement | None:
    if raw is None:
        return None
    return OpenPlacement(
        placement_id=raw["placement_id"],
        agency_id=raw["agency_id"],
        as_of=date.fromisoformat(raw["as_of"]),
        recall_on=date.fromisoformat(raw["recall_on"]),
        commission_pct=Decimal(raw["commission_pct"]),
        checked_on=date.fromisoformat(raw["checked_on"]),
    )


def from_state(state: dict[str, Any]) -> LegalAccount:
    """The LegalAccount kept as `state` (see `to_state`)."""
    return LegalAccount(
        account_id=state["account_id"],
        unpaid_dues=tuple(
            UnpaidDue(d["due_id"], date.fromisoformat(d["due_date"]), d["unpaid_minor"]) for d in state["unpaid_dues"]
        ),
        flags=frozenset(state["flags"]),
        promises=tuple(
            Promise(p["promise_id"], p["amount_minor"], date.fromisoformat(p["promised_on"]), p["status"])
            for p in state["promises"]
        ),
        arrangements=tuple(
            Arrangement(
                arrangement_id=a["arrangement_id"],
                kind=a["kind"],
                made_on=date.fromisoformat(a["made_on"]),
                total_minor=a["total_minor"],
                installments=a["installments"],
                status=a["status"],
                ended_as_of=_date(a["ended_as_of"]),
                installment=a["installment"],
                paid_minor=a["paid_minor"],
            )
            for a in state["arrangements"]
        ),
        declines=tuple(Decline(d["kind"], d["reason"], d["at"]) for d in state["declines"]),
        requests=tuple((date.fromisoformat(on), int(count)) for on, count in state["requests"]),
        open_case_id=state["open_case_id"],
        hold_until_cure=bool(state["hold_until_cure"]),
        placement=_placement(state.get("placement")),
        placed_in_episode=bool(state.get("placed_in_episode", False)),
        payments=tuple(
            Payment(pid, int(amount), date.fromisoformat(on), bool(standing))
            for pid, amount, on, standing in state.get("payments", [])
        ),
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
