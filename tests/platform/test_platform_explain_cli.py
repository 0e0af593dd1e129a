"""`collections explain` bad input: one clear line each (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collections_platform.cli import main


def test_explain_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    close = {
        "specversion": "1.0",
        "id": "close-1",
        "source": "test",
        "type": "day.closed",
        "subject": "clock",
        "time": "2026-01-05T16:00:00Z",
        "datacontenttype": "application/json",
        "data": {"as_of": "2026-01-05"},
    }
    (tmp_path / "in.jsonl").write_text(json.dumps(close) + "\n", encoding="utf-8")
    assert (
        main(["replay", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--state", str(state)]) == 0
    )
    capsys.readouterr()
    cases = [
        (["ACC-1", "--as-of", "2026-02-30"], 2, "is not a date written YYYY-MM-DD"),
        (["ACC-1", "--as-of", "2026-01-05"], 3, "account ACC-1 is unknown to outreach"),
        (["ACC-1", "--as-of", "2026-01-05", "--state", str(tmp_path / "none")], 2, "no outreach database"),
    ]
    for args, status, words in cases:
        if "--state" not in args:
            args = [*args, "--state", str(state)]
        assert main(["explain", *args]) == status
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
