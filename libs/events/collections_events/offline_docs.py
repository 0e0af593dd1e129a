"""FastAPI apps whose `/docs` (Swagger UI) and `/redoc` work with no network (issue 15).

Air-gapped clusters are common in lending, and FastAPI's own pages load Swagger UI and ReDoc from a
CDN. `fastapi-offline` serves both from the package (under `/static-offline-docs`); its ReDoc bundle
still draws one image from `cdn.redoc.ly` (the "API docs by Redocly" logo in the sidebar, a failed
request on every load without internet), so `/redoc` here loads that same bundle with the logo's
address replaced by an empty inline SVG, served at `/docs-assets/redoc.standalone.js`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

STATIC_URL = "/static-offline-docs"
"""Where fastapi-offline mounts Swagger UI's bundle, its CSS and the favicon."""

REDOC_JS_URL = "/docs-assets/redoc.standalone.js"
"""ReDoc's bundle without its one remote image (see the module's text)."""

_REDOC_REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"


@cache
def redoc_bundle() -> bytes:
    """fastapi-offline's ReDoc bundle, its remote logo replaced by an empty inline SVG."""
    path = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    return path.read_bytes().replace(_REDOC_REMOTE_LOGO.encode(), _EMPTY_SVG.encode())


def offline_app(**kwargs: Any) -> FastAPI:
    """A `FastAPI(**kwargs)` (any of its keyword arguments: `title`, `telemetry`, ...) whose `/docs` and
    `/redoc` load nothing from outside the app."""
    app = fastapi_offline.FastAPIOffline(redoc_url=None, static_url=STATIC_URL, **kwargs)
    assert app.openapi_url is not None

    @app.get(REDOC_JS_URL, include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC_JS_URL}",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )

    return app
