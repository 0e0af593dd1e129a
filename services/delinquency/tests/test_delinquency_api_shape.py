"""Delinquency's API in the one service shape (decision 0008): the one 404, routers, OpenAPI title."""

from __future__ import annotations

from typing import Any


async def test_unknown_account_is_the_one_404(rig: Any) -> None:
    async with rig.client() as client:
        response = await client.get("/accounts/nobody")
        assert response.status_code == 404
        assert response.json() == {"detail": "unknown account nobody"}


async def test_openapi_title_and_documented_404(rig: Any) -> None:
    async with rig.client() as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Collections Delinquency"
    assert "404" in schema["paths"]["/accounts/{account_id}"]["get"]["responses"]
    assert {"/accounts/{account_id}", "/buckets", "/roll-rates"} <= set(schema["paths"])


async def test_roll_rates_from_after_to_is_422(rig: Any) -> None:
    async with rig.client() as client:
        response = await client.get("/roll-rates", params={"from": "2024-02-01", "to": "2024-01-01"})
    assert response.status_code == 422
