"""deploy/Dockerfile: hadolint passes, and the rules the Deployments rely on hold in the file itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def test_hadolint_passes() -> None:
    exe = Path(sys.executable).with_name("hadolint")
    done = subprocess.run([str(exe), str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_image_non_root_and_the_base_is_an_argument() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    assert re.findall(r"^FROM \$\{BASE_IMAGE\} AS (\w+)$", text, re.M) == ["build", "runtime"]
    assert re.findall(r"^USER (.+)$", text, re.M) == ["10001:10001"]
    assert "ENTRYPOINT" not in text  # the Deployment's command picks the service
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "HOME=/tmp" in text


def test_build_context_leaves_out_local_state() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in ignore  # everything out, then only what the build needs back in
    assert {"!pyproject.toml", "!uv.lock", "!src/", "!libs/", "!services/"} <= set(ignore)
    assert "**/tests/" in ignore
