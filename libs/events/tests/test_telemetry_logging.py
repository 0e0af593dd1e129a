"""Logs are JSON lines with personal data redacted: structlog's own, and the standard-library records
of libraries (uvicorn, alembic, SQLAlchemy), which used to print as plain lines without redaction."""

from __future__ import annotations

import io
import json
import logging

import structlog

from collections_events.telemetry import setup_logging


def test_library_and_platform_logs_are_redacted_json_lines() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    try:
        logging.getLogger("uvicorn.error").info("parameters ('+14155550123', 'wei@example.com')")
        structlog.get_logger().info("contact", phone="+8613800000001", account_id="A")
        logging.getLogger("quiet").debug("below the level")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        # Leave logging as the other tests found it: no handler of ours, structlog's defaults.
        root = logging.getLogger()
        root.handlers[:] = [
            h for h in root.handlers if not isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
        ]
        structlog.reset_defaults()
    assert [line["event"] for line in lines] == ["parameters ('[phone]', '[email]')", "contact"]
    assert lines[0]["logger"] == "uvicorn.error" and lines[0]["level"] == "info"
    assert lines[1]["phone"] == "[redacted]" and lines[1]["account_id"] == "A"
    assert "+14155550123" not in stream.getvalue() and "+8613800000001" not in stream.getvalue()
