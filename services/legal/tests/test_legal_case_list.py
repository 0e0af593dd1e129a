"""The case list: filters by state, opening dates and dpd range, and paging."""

from __future__ import annotations

from datetime import date, timedelta

D0 = date(2026, 1, 10)


async def _cases(legal) -> dict[str, str]:
    """Six cases: A..C opened at D0+90 (dpd 90), D, E at D0+95 with dpd 95/100, F at D0+100."""
    for account in ("A", "B", "C"):
        await legal.delinquent(account)
    await legal.delinquent("D", due=D0 + timedelta(days=5))
    await legal.delinquent("E")
    await legal.flag("E", "dispute")
    await legal.delinquent("F", due=D0 + timedelta(days=10))
    ids = {}
    for on in (90, 95, 100):
        if on == 95:
            await legal.flag("E", "dispute", is_set=False)
        for e in legal.of_type(await legal.close(D0 + timedelta(days=on)), "legal.case_opened"):
            ids[e.data["account_id"]] = e.data["case_id"]
    return ids


async def test_filters_and_paging(legal) -> None:
    ids = await _cases(legal)
    assert sorted(ids) == ["A", "B", "C", "D", "E", "F"]
    async with legal.client() as http:
        await http.post(f"/cases/{ids['B']}/moves", json={"to_state": "demand_sent", "actor": "a"})

        async def accounts(**params) -> list[str]:
            body = (await http.get("/cases", params=params)).json()
            return [c["account_id"] for c in body["items"]]

        assert await accounts() == ["A", "B", "C", "D", "E", "F"]
        assert await accounts(state="demand_sent") == ["B"]
        assert await accounts(state="referred") == ["A", "C", "D", "E", "F"]
        day95 = (D0 + timedelta(days=95)).isoformat()
        assert await accounts(opened_from=day95) == ["D", "E", "F"]
        assert await accounts(opened_to=day95) == ["A", "B", "C", "D", "E"]
        assert await accounts(opened_from=day95, opened_to=day95) == ["D", "E"]
        assert await accounts(dpd_min=95) == ["E"]
        assert await accounts(dpd_max=90) == ["A", "B", "C", "D", "F"]
        assert await accounts(dpd_min=91, dpd_max=94) == []
        assert (await http.get("/cases", params={"state": "nonsense"})).status_code == 422

        page1 = (await http.get("/cases", params={"limit": 4})).json()
        assert [c["account_id"] for c in page1["items"]] == ["A", "B", "C", "D"]
        assert page1["total"] == 6 and page1["next_offset"] == 4
        page2 = (await http.get("/cases", params={"limit": 4, "offset": page1["next_offset"]})).json()
        assert [c["account_id"] for c in page2["items"]] == ["E", "F"] and page2["next_offset"] is None
        filtered = (await http.get("/cases", params={"state": "referred", "limit": 2, "offset": 2})).json()
        assert [c["account_id"] for c in filtered["items"]] == ["D", "E"] and filtered["total"] == 5
