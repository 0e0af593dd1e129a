"""The agency breach-rate alert behaves as its runbook says: promtool's rule unit tests
(deploy/prometheus/alerts_test.yml) fire it for an agency over 5 % and not for a careful or tiny one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_agency_breach_rate_alert_passes_its_promtool_unit_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        subprocess.run([str(ROOT / "deploy" / "local" / "prometheus.sh"), "install"], check=True, timeout=600)
        promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian's prometheus package) is needed"
    tests = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
    done = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
