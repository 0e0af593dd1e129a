"""The scenario tests share their input builders (scenario_core_helpers.py): pytest imports test
files in importlib mode, so this folder is put on the path for them once, here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
