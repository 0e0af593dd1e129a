"""What every service's FastAPI app shares: health, readiness, the session dependency, commands.

Routes of a service live in its own `adapters/api.py`; they read the service's own tables only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from collections_events.envelope import Envelope
from collections_events.metrics import add_metrics_route
from collections_events.offline_docs import offline_app
from collections_events.registry import EVENT_TYPES
from collections_events.runtime.runtime import ServiceRuntime
from collections_events.validation import Event, Rejection, read_structured

ReadyCheck = Callable[[], Awaitable[bool]]

MAX_QUERY_INT = 2**31 - 1
"""The largest integer a query parameter takes (an `offset`, a `dpd_min`): beyond what a database
integer holds, SQLite raised OverflowError and the API answered 500 (found by schemathesis, issue 15)."""


OPERATIONAL_PATHS = frozenset({"/metrics", "/ready", "/health", "/docs", "/redoc", "/openapi.json", "/favicon.ico"})
"""Paths FastAPI's own request tracing skips: Prometheus' scrapes and the probes would otherwise make a
trace every few seconds per service (issue 15), and a person opening /docs a trace per asset; an
agent's command still makes its HTTP span."""

OPERATIONAL_PREFIXES = ("/static-offline-docs/", "/docs-assets/", "/docs/")
"""The documentation pages' assets (collections_events.offline_docs), skipped like the paths above."""


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """One page of a list route: its `items`, the `total` over every page, the `limit` and `offset`
    asked for, and `next_offset` (None on the last page), the same shape on every service."""
    following = offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


def _operational(scope: MutableMapping[str, Any]) -> bool:
    path = scope.get("path") or ""
    return path in OPERATIONAL_PATHS or path.startswith(OPERATIONAL_PREFIXES)


def service_app(runtime: ServiceRuntime, *, title: str, description: str = "") -> FastAPI:
    """A FastAPI app for `runtime` with `/health` (liveness) and `/ready` (database and transport).

    More readiness checks (e.g. Kafka reachable) are appended to `app.state.ready_checks`. `/docs`
    (Swagger UI) and `/redoc` load their scripts and styles from the app itself, never from a CDN
    (collections_events.offline_docs): they work on an air-gapped cluster (issue 15).
    """
    app = offline_app(title=title, description=description, version="1", telemetry={"exclude": _operational})
    app.state.runtime = runtime
    app.state.ready_checks = [runtime.db.ping]
    add_metrics_route(app)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"])
    async def ready(response: Response) -> dict[str, Any]:
        """Readiness: the database (and, in production, Kafka) is reachable."""
        checks = [await check() for check in app.state.ready_checks]
        if not all(checks):
            response.status_code = 503
            return {"status": "not ready"}
        return {"status": "ready"}

    return app


def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the service runtime behind this app."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: a read session on the service's own database (no commit)."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.db.sessions() as session:
        yield session


def command_event(
    type_name: str, subject: str, data: dict[str, Any], *, source: str, traceparent: str | None = None
) -> Event | Rejection:
    """An event made at the API's edge for an agent's command: a fresh id and the current instant.

    This is the one place a wall clock and a random id enter: they describe when and which command
    arrived, and everything decided from it is a deterministic function of that event.
    """
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source=source,
        type=type_name,
        subject=subject,
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        data=data,
        traceparent=traceparent,
    )
    return read_structured(envelope.to_structured())


def unprocessable(type_name: str, data: dict[str, Any], rejection: Rejection) -> JSONResponse:
    """A 422 answer for a command the contract refuses, shaped as FastAPI's own validation errors.

    `detail` is a list of `{"loc": ["body", ...field path], "msg", "type"}`, the path relative to the
    event's `data` (what the agent sent), so every service's API answers bad input alike.
    """
    try:
        EVENT_TYPES[type_name].model.model_validate(data)
    except ValidationError as error:
        detail = [
            {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False, include_context=False, include_input=False)
        ]
    else:  # refused at the envelope, not in data
        detail = [{"loc": ["body"], "msg": rejection.reason, "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})


NOT_FOUND_RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown to this service"}}
"""`responses=` of a route that answers 404 (OpenAPI shows it), with `unknown(...)`'s detail."""


def unknown(what: str, key: str) -> HTTPException:
    """The one 404 of every service's API: `{"detail": "unknown <what> <key>"}` (issue 15).

    `what` is the resource (`account`, `case`, `placement`, ...). An account is unknown to a service
    until it has handled an event of it; an agent's command on an unknown account is answered 404
    too, before any event is made (nothing is recorded).
    """
    return HTTPException(status_code=404, detail=f"unknown {what} {key}")
