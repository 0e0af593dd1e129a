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
from typing import NoReturn

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
