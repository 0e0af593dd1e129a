"""Session-wide real infrastructure for tests: one PostgreSQL and one Kafka broker per run.

`make test` starts both (deploy/local/*.sh) and passes their addresses in COLLECTIONS_PG_URL and
COLLECTIONS_KAFKA_BOOTSTRAP; run alone, pytest starts what a test needs and stops it at the end.
Tests that need them are marked `postgres` / `kafka`; nothing here is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).parent
LOCAL = ROOT / "deploy" / "local"


# A pytest run that starts its own servers keeps them in a state folder of its own, so two runs on
# one machine never stop each other's servers (`make test` passes addresses and starts nothing here).
_OWN_STATE: list[str] = []


def _env() -> dict[str, str]:
    if os.environ.get("COLLECTIONS_STATE"):
        return dict(os.environ)
    if not _OWN_STATE:
        folder = tempfile.mkdtemp(prefix="collections-pytest-")
        os.chmod(folder, 0o755)  # PostgreSQL runs as an unprivileged user and must reach it
        _OWN_STATE.append(folder)
    return {**os.environ, "COLLECTIONS_STATE": _OWN_STATE[0]}


def _start(script: str) -> str:
    done = subprocess.run([str(LOCAL / script), "start"], check=True, capture_output=True, text=True, env=_env())
    return done.stdout.strip().splitlines()[-1]


def _stop(script: str) -> None:
    subprocess.run([str(LOCAL / script), "stop"], check=False, capture_output=True, env=_env())


def builds_required() -> bool:
    """CI (`CI=true`, which .ci/run sets, as most CI systems do) or COLLECTIONS_REQUIRE_BUILDS=1: the
    built artifacts (the image, the Jaeger binary) must be there, so a test needing one fails, not skips."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("COLLECTIONS_REQUIRE_BUILDS") == "1"


@pytest.fixture(scope="session")
def missing_build() -> Callable[[str], NoReturn]:
    """Call it with the reason when a test's built artifact is missing: outside CI the test skips and says
    why; in CI (see `builds_required`) it fails, since a skip there would silently prove nothing."""

    def missing(reason: str) -> NoReturn:
        if builds_required():
            pytest.fail(f"{reason} [CI=true / COLLECTIONS_REQUIRE_BUILDS=1: the artifact must be built]", pytrace=False)
        pytest.skip(reason)

    return missing


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the state folder this run made (its servers are stopped by their fixtures)."""
    for folder in _OWN_STATE:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running PostgreSQL server (`postgresql://postgres@127.0.0.1:PORT`)."""
    url = os.environ.get("COLLECTIONS_PG_URL")
    if url:
        yield url
        return
    url = _start("postgres.sh")
    try:
        yield url
    finally:
        _stop("postgres.sh")


@pytest.fixture(scope="session")
def create_pg_database(postgres_server: str) -> Callable[[str], str]:
    """A factory: a fresh, empty database named after `prefix`; returns its asyncpg URL."""

    def create(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", postgres_server, "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        return postgres_server.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"

    return create


@pytest.fixture
def pg_url(create_pg_database: Callable[[str], str]) -> str:
    """A fresh PostgreSQL database for one test (asyncpg URL)."""
    return create_pg_database("t")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of a running single-node KRaft broker (`127.0.0.1:PORT`)."""
    address = os.environ.get("COLLECTIONS_KAFKA_BOOTSTRAP")
    if address:
        yield address
        return
    address = _start("kafka.sh")
    try:
        yield address
    finally:
        _stop("kafka.sh")


# -- headless Chromium (Debian's package) for what a person looks at --------------------------------
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, Chromium's own background connections are refused by a closed network and
    # logged as errors at every start.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class RenderedPage:
    """What headless Chromium made of one page: its text, a PNG screenshot, console errors, failed requests,
    and how many elements matched each selector of `count=`."""

    def __init__(
        self,
        text: str,
        screenshot: bytes,
        errors: list[str],
        failed_requests: list[str],
        counts: dict[str, int] | None = None,
    ) -> None:
        self.text = text
        self.screenshot = screenshot
        self.errors = errors
        self.failed_requests = failed_requests
        self.counts = counts or {}

    def assert_clean(self) -> None:
        """Fail naming every console error, page error and failed request (the page must work offline)."""
        problems = self.errors + [f"request failed: {r}" for r in self.failed_requests]
        assert not problems, "the page logged problems:\n" + "\n".join(problems)
        assert len(self.screenshot) > 1000, "the screenshot is empty"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The path of Debian's Chromium, installed by deploy/local/chromium.sh when missing."""
    done = subprocess.run([str(LOCAL / "chromium.sh"), "install"], check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def render_page(chromium_path: str) -> Callable[..., Any]:
    """`await render_page(url, wait_for=css_selector, count=[selectors])`: load `url` in headless Chromium
    (Playwright driving Debian's browser, no downloaded browser) and return a RenderedPage. Requests that
    leave the machine fail (there is no network), so a page that needs a CDN shows up in `failed_requests`."""

    async def render(
        url: str, *, wait_for: str | None = None, timeout_ms: int = 20000, count: tuple[str, ...] | list[str] = ()
    ) -> RenderedPage:
        from playwright.async_api import async_playwright

        errors: list[str] = []
        failed: list[str] = []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS, headless=True)
            try:
                page = await browser.new_page()
                page.on("console", lambda m: m.type == "error" and errors.append(f"console.error: {m.text}"))
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
                await page.goto(url, wait_until="networkidle", timeout=timeout_ms)
                if wait_for:
                    await page.wait_for_selector(wait_for, timeout=timeout_ms)
                text = await page.inner_text("body")
                counts = {selector: await page.locator(selector).count() for selector in count}
                shot = await page.screenshot(full_page=True)
            finally:
                await browser.close()
        return RenderedPage(text, shot, errors, failed, counts)

    return render
