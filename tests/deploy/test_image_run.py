"""A service started from the built image, as its Deployment starts it, against real PostgreSQL and Kafka.

`deploy/image.sh run` gives the process what the pod gives it: the image's root filesystem read-only,
/tmp a tmpfs, uid/gid 10001, no capabilities, the manifest's command and environment. The image must
have been built (`make image`, minutes; .ci/run builds it); without it these tests skip and say so, and
in CI (CI=true or COLLECTIONS_REQUIRE_BUILDS=1) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_SH = ROOT / "deploy" / "image.sh"
CONFIG = ROOT / "deploy" / "k8s" / "base" / "platform.yaml"
GRACE_SECONDS = 45  # terminationGracePeriodSeconds in deploy/k8s/base/*/deployment.yaml


@cache
def _image_present() -> bool:
    if shutil.which("buildah") is None or os.geteuid() != 0:
        return False
    cache_dir = Path(os.environ.get("COLLECTIONS_CACHE", Path.home() / ".cache/collections"))
    root = os.environ.get("BUILDAH_ROOT", str(cache_dir / "containers/storage"))
    done = subprocess.run(
        ["buildah", "--root", root, "--runroot", "/tmp/collections-containers-run", "--storage-driver", "vfs",
         "inspect", "--type", "image", "localhost/collections-platform:0.1.0"],
        capture_output=True,
    )  # fmt: skip
    return done.returncode == 0


pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


@pytest.fixture(autouse=True)
def _image_built(missing_build: Callable[[str], NoReturn]) -> None:
    if not _image_present():
        missing_build("no built image (or not root, or no buildah): run `make image` (deploy/image.sh) first")


def _run_args(env: dict[str, str], *command: str) -> list[str]:
    args = [str(IMAGE_SH), "run", "-c", str(CONFIG)]
    for name, value in env.items():
        args += ["-e", f"{name}={value}"]
    return [*args, "--", *command]


@pytest.fixture
def clean_containers() -> Iterator[None]:
    yield
    subprocess.run([str(IMAGE_SH), "clean-run"], capture_output=True, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def test_root_filesystem_is_read_only_and_user_is_10001(clean_containers: None) -> None:
    probe = "import os; print(os.getuid()); open('/tmp/ok', 'w').write('x'); open('/app/nope', 'w')"
    done = subprocess.run(_run_args({}, "python3", "-c", probe), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert done.stdout.strip() == "10001"
    assert "Read-only file system" in done.stderr


def test_service_from_the_image_migrates_becomes_ready_and_stops_on_sigterm(
    pg_url: str, kafka_bootstrap: str, clean_containers: None
) -> None:
    env = {"DATABASE_URL": pg_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LOG_LEVEL": "INFO"}
    migrate = subprocess.run(
        _run_args(env, "collections-ledger", "migrate"), capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]

    port = _free_port()
    env |= {"PORT": str(port), "HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        _run_args(env, "collections-ledger", "run"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while _status(f"http://127.0.0.1:{port}/ready") != 200:
            assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()[-3000:]
            assert time.monotonic() < deadline, "not ready within 120 s"
            time.sleep(0.3)
        assert _status(f"http://127.0.0.1:{port}/health") == 200
        uid = next(
            line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if line.startswith("Uid:")
        )
        assert uid.split()[1] == "10001"

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GRACE_SECONDS)
        assert code == 0
        assert time.monotonic() - started < GRACE_SECONDS / 3, "the clean stop must sit well inside the grace period"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
