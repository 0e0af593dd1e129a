"""The README's example of publishing a payment runs against a real broker, and the platform reads it."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from collections_events.testing import consume_all, make_envelope, unique_topics_config
from collections_events.transport.kafka import decode_record
from collections_events.validation import Event
from collections_platform.distributed import publish_file

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.kafka
async def test_the_readme_publishing_example_produces_an_event_the_platform_accepts(kafka_bootstrap: str) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert code, "the README has a Python example"
    topic = f"readme-example-{uuid.uuid4().hex[:8]}"
    source = code.group(1)
    assert '"127.0.0.1:9092"' in source and '"lender.payments.v1"' in source
    source = source.replace('"127.0.0.1:9092"', repr(kafka_bootstrap)).replace('"lender.payments.v1"', repr(topic))
    source = source.replace("asyncio.run(main())", "")
    namespace: dict[str, object] = {}
    exec(compile(source, "README.md", "exec"), namespace)
    await namespace["main"]()  # type: ignore[operator]

    records = await consume_all(kafka_bootstrap, [topic], until=lambda r: len(r) >= 1, timeout=60)
    event = decode_record(records[0])
    assert isinstance(event, Event), event
    assert event.type == "payment.received"
    assert records[0].key == b"ACC-1"
    assert event.envelope.time == "2026-01-15T09:30:00+08:00"
    assert event.data.model_dump(mode="json") == {
        "account_id": "ACC-1",
        "payment_id": "P-1",
        "amount_minor": 12540,
        "received_on": "2026-01-15",
    }


@pytest.mark.kafka
async def test_publish_skips_a_line_that_is_not_utf8_and_publishes_the_rest(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # `collections publish` reads lines as replay does: one bad line is one skipped line, not the end.
    config = unique_topics_config()
    good = make_envelope(
        "payment.received",
        {"account_id": "ACC-1", "payment_id": "P-1", "amount_minor": 100, "received_on": "2026-01-15"},
    ).to_structured()
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"type": "payment.received", "note": "caf\xe9"}\n' + json.dumps(good).encode() + b"\n")
    assert await publish_file(kafka_bootstrap, source, config) == 1
    records = await consume_all(kafka_bootstrap, [config.topics.payments], until=lambda r: len(r) >= 1, timeout=60)
    event = decode_record(records[0])
    assert isinstance(event, Event) and event.id == good["id"]
