"""Which requests FastAPI's own tracing skips (issue 15: Prometheus' scrapes and probes, and the
documentation pages and their assets, must not make a trace each; an agent's request must)."""

from __future__ import annotations

import pytest

from collections_events.api import _operational


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/ready",
        "/health",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/static-offline-docs/swagger-ui.css",
        "/docs-assets/redoc.standalone.js",
        "/docs/oauth2-redirect",
    ],
)
def test_operational_and_documentation_requests_are_not_traced(path: str) -> None:
    assert _operational({"path": path})


@pytest.mark.parametrize(
    "path", ["/accounts/acc-1", "/accounts/acc-1/contact-results", "/cases", "/experiments", "/docsy", ""]
)
def test_business_requests_are_traced(path: str) -> None:
    assert not _operational({"path": path})
