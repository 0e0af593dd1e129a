"""The evidence bundle: case, history, the trail copy with its chain verified, arrangements; JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

from sqlalchemy import update

D0 = date(2026, 1, 10)
D90 = D0 + timedelta(days=90)


async def _case_with_trail(legal) -> str:
    await legal.delinquent("A1")
    await legal.send("outreach.contact_recorded", legal.record("A1", "result", None, outcome="answered_rpc"))
    await legal.send(
        "outreach.arrangement_made",
        {
            "arrangement_id": "AR1",
            "account_id": "A1",
            "kind": "settlement",
            "installments": [{"due_on": "2026-02-20", "amount_minor": 2500}],
            "total_minor": 2500,
            "made_on": "2026-02-10",
        },
    )
    await legal.send(
        "outreach.arrangement_broken",
        {
            "arrangement_id": "AR1",
            "account_id": "A1",
            "as_of": "2026-02-25",
            "installment": 1,
            "due_on": "2026-02-20",
            "paid_minor": 0,
            "expected_minor": 2500,
        },
    )
    await legal.send(
        "outreach.arrangement_declined", {"account_id": "A1", "kind": "plan", "reason": "too_many_installments"}
    )
    [opened] = legal.of_type(await legal.close(D90), "legal.case_opened")
    return opened.data["case_id"]


async def test_evidence_json_has_the_verified_trail_and_arrangements(legal) -> None:
    case_id = await _case_with_trail(legal)
    async with legal.client() as http:
        bundle = (await http.get(f"/cases/{case_id}/evidence")).json()
    assert bundle["case"]["case_id"] == case_id and bundle["case"]["state"] == "referred"
    assert [h["to_state"] for h in bundle["history"]] == ["referred"]
    assert [r["sequence"] for r in bundle["trail"]] == [1, 2, 3, 4]
    assert bundle["trail"][3]["outcome"] == "answered_rpc"
    assert set(bundle["trail"][0]) == {
        "record_id", "account_id", "attempt_id", "kind", "channel", "outcome",
        "occurred_at", "as_of", "sequence", "prev_hash", "hash",
    }  # fmt: skip
    assert bundle["chain"] == {
        "ok": True,
        "records": 4,
        "first_bad_sequence": None,
        "first_bad_record_id": None,
        "reason": None,
    }
    [arrangement] = bundle["arrangements"]
    assert arrangement["arrangement_id"] == "AR1" and arrangement["status"] == "broken"
    assert arrangement["broken_as_of"] == "2026-02-25" and arrangement["unmet_installment"] == 1
    assert bundle["declined_arrangements"][0]["reason"] == "too_many_installments"


async def test_evidence_csv_for_a_court_filing(legal) -> None:
    case_id = await _case_with_trail(legal)
    async with legal.client() as http:
        answer = await http.get(f"/cases/{case_id}/evidence.csv")
        same = await http.get(f"/cases/{case_id}/evidence", params={"format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text == same.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["section"] for r in rows] == ["case", "history", "contact", "contact", "contact", "contact",
                                           "arrangement", "chain"]  # fmt: skip
    assert rows[0]["ref"] == case_id
    contacts = [r for r in rows if r["section"] == "contact"]
    assert [r["sequence"] for r in contacts] == ["1", "2", "3", "4"]
    assert all(len(r["hash"]) == 64 for r in contacts)
    assert rows[-1]["state"] == "verified" and rows[-1]["detail"].startswith("4 records")


async def test_a_tampered_copy_is_named_by_the_verification(legal) -> None:
    case_id = await _case_with_trail(legal)
    trail = legal.runtime.spec.tables["trail"]
    async with legal.runtime.db.transaction() as session:
        row = (await session.execute(trail.select().where(trail.c.record_id == "A1-rec-2"))).one()
        record = json.loads(row.record)
        record["channel"] = "letter"  # someone rewrites history
        await session.execute(update(trail).where(trail.c.record_id == "A1-rec-2").values(record=json.dumps(record)))
    async with legal.client() as http:
        bundle = (await http.get(f"/cases/{case_id}/evidence")).json()
        text = (await http.get(f"/cases/{case_id}/evidence.csv")).text
    assert bundle["chain"]["ok"] is False
    assert bundle["chain"]["first_bad_record_id"] == "A1-rec-2"
    assert bundle["chain"]["first_bad_sequence"] == 2
    assert "hash does not match" in bundle["chain"]["reason"]
    last = list(csv.DictReader(io.StringIO(text)))[-1]
    assert last["section"] == "chain" and last["state"] == "broken" and last["ref"] == "A1-rec-2"


async def test_a_deleted_record_breaks_the_chain_at_the_next_one(legal) -> None:
    case_id = await _case_with_trail(legal)
    trail = legal.runtime.spec.tables["trail"]
    async with legal.runtime.db.transaction() as session:
        await session.execute(trail.delete().where(trail.c.record_id == "A1-rec-2"))
    async with legal.client() as http:
        chain = (await http.get(f"/cases/{case_id}/evidence")).json()["chain"]
    assert chain["ok"] is False and chain["first_bad_record_id"] == "A1-rec-3"


async def test_a_repeated_record_is_kept_and_counted_once(legal) -> None:
    await legal.delinquent("A1", attempts=2)
    record = legal.record("A1", "requested", D0 + timedelta(days=3))
    await legal.send("outreach.contact_recorded", record)
    await legal.send("outreach.contact_recorded", record)  # a redelivery under another event id
    [opened] = legal.of_type(await legal.close(D90), "legal.case_opened")
    assert opened.data["contact_attempts"] == 3
