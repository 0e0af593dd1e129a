"""A case's evidence bundle: the case, its history, the account's contact trail with its hash chain
verified, and the account's arrangements and how each ended (behaviour.md, Legal; issues 5 and 9).

The trail is legal's own copy, kept from `outreach.contact_recorded` events exactly as received;
`audit_chain.verify_chain` recomputes every hash, so an edited copy names its first bad record.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from collections_events.audit_chain import verify_chain
from collections_legal.app.repository import CaseRow, LegalRepository
from collections_legal.domain.account import LegalAccount

TRAIL_FIELDS = (
    "sequence",
    "record_id",
    "attempt_id",
    "kind",
    "channel",
    "outcome",
    "occurred_at",
    "as_of",
    "prev_hash",
    "hash",
)
CSV_COLUMNS = (
    "section",
    "ref",
    "sequence",
    "date",
    "instant",
    "kind",
    "state",
    "channel",
    "outcome",
    "amount_minor",
    "actor",
    "detail",
    "prev_hash",
    "hash",
)


async def evidence_bundle(repo: LegalRepository, case: CaseRow, account: LegalAccount | None) -> dict[str, Any]:
    """The bundle as JSON: `case`, `history`, `trail`, `chain` (the verdict), `arrangements`, `declines`."""
    trail = await repo.trail(case.account_id)
    verdict = verify_chain(trail)
    return {
        "case": case.to_json(),
        "history": await repo.history(case.case_id),
        "trail": trail,
        "chain": asdict(verdict),
        "arrangements": [_arrangement(a) for a in account.arrangements] if account else [],
        "declined_arrangements": [asdict(d) for d in account.declines] if account else [],
    }


def _arrangement(a: Any) -> dict[str, Any]:
    ended = {"active": None, "completed": "completed", "broken": "broken"}[a.status]
    return {
        "arrangement_id": a.arrangement_id,
        "kind": a.kind,
        "made_on": a.made_on.isoformat(),
        "total_minor": a.total_minor,
        "installments": a.installments,
        "status": a.status,
        "ended": ended,
        "broken_as_of": a.ended_as_of.isoformat() if a.ended_as_of else None,
        "unmet_installment": a.installment,
        "paid_minor": a.paid_minor,
    }


def evidence_csv(bundle: dict[str, Any]) -> str:
    """The bundle as one CSV table for a court filing: a `section` column says what each row is.

    Sections: `case` (one row), `history` (each step), `contact` (each trail record, with its
    hashes), `arrangement` (each, with how it ended), `chain` (the verification verdict).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(_case_row(bundle["case"]))
    writer.writerows(_history_row(step) for step in bundle["history"])
    writer.writerows(_contact_row(record) for record in bundle["trail"])
    writer.writerows(_arrangement_row(a) for a in bundle["arrangements"])
    writer.writerow(_chain_row(bundle["chain"]))
    return out.getvalue()


def _case_row(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "section": "case",
        "ref": case["case_id"],
        "date": case["opened_on"],
        "state": case["state"],
        "amount_minor": case["past_due_minor"],
        "detail": f"account {case['account_id']}; dpd {case['dpd']}; contact attempts "
        f"{case['contact_attempts']}; closed {case['closed_on'] or '-'} ({case['close_reason'] or '-'})",
    }


def _history_row(step: dict[str, Any]) -> dict[str, Any]:
    facts = [f"{k} {step[k]}" for k in ("court", "docket_number", "on_date", "reason") if step[k]]
    return {
        "section": "history",
        "ref": step["event_id"],
        "sequence": step["step"],
        "date": step["as_of"],
        "instant": step["time"],
        "kind": step["from_state"] or "",
        "state": step["to_state"],
        "amount_minor": step["amount_minor"],
        "actor": step["actor"],
        "detail": "; ".join([*facts, step["note"] or ""]).strip("; "),
    }


def _contact_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "section": "contact",
        "ref": record.get("record_id"),
        "sequence": record.get("sequence"),
        "date": record.get("as_of"),
        "instant": record.get("occurred_at"),
        "kind": record.get("kind"),
        "channel": record.get("channel"),
        "outcome": record.get("outcome"),
        "detail": f"attempt {record.get('attempt_id') or '-'}",
        "prev_hash": record.get("prev_hash"),
        "hash": record.get("hash"),
    }


def _arrangement_row(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "section": "arrangement",
        "ref": a["arrangement_id"],
        "date": a["made_on"],
        "kind": a["kind"],
        "state": a["status"],
        "amount_minor": a["total_minor"],
        "detail": f"{a['installments']} installments; paid {a['paid_minor']}; broken as of {a['broken_as_of'] or '-'}",
    }


def _chain_row(chain: dict[str, Any]) -> dict[str, Any]:
    return {
        "section": "chain",
        "ref": chain["first_bad_record_id"] or "",
        "sequence": chain["first_bad_sequence"],
        "state": "verified" if chain["ok"] else "broken",
        "detail": f"{chain['records']} records; {chain['reason'] or 'every hash matches'}",
    }
