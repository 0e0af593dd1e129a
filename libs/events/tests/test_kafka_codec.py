"""Reading and writing CloudEvents on Kafka (contract.md, Envelope): every layout other teams send.

Unit tests build messages with the CloudEvents SDK (2.x and its 1.x API); the broker tests send
with Kafka's own ConsoleProducer and with confluent-kafka and read back what the broker stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from cloudevents.core.bindings import kafka as ce2
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as CloudEvent2
from cloudevents.v1 import kafka as ce1
from cloudevents.v1.http import CloudEvent as CloudEvent1
from hypothesis import given
from hypothesis import strategies as st

from collections_events.runtime.process import KafkaSettings, ensure_topics
from collections_events.testing import consume_all, make_envelope, topic_partitions, unique_topics_config
from collections_events.transport.kafka import decode_message, decode_record, encode_binary
from collections_events.validation import Event, Rejection

ROOT = Path(__file__).resolve().parents[3]
DUE = {
    "account_id": "acc-7",
    "due_id": "d1",
    "due_date": "2024-01-10",
    "amount_due_minor": 12540,
    "statement_balance_minor": 50000,
}
ATTRS = {
    "id": "evt-1",
    "source": "lender/billing",
    "type": "payment.due",
    "subject": "acc-7",
    "time": "2024-01-10T08:00:00.250+08:00",
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def event_of(parsed: Event | Rejection) -> Event:
    assert isinstance(parsed, Event), parsed
    return parsed


def headers_of(mapping: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return list(mapping.items())


# -- binary mode -------------------------------------------------------------------------------
def test_what_the_platform_sends_reads_back_identically() -> None:
    envelope = make_envelope("payment.due", DUE, event_id="evt-1", time=ATTRS["time"]).model_copy(
        update={"traceparent": TRACEPARENT}
    )
    wire = encode_binary(envelope)
    headers = dict(wire.headers)
    assert wire.key == b"acc-7"
    assert headers["ce_time"] == ATTRS["time"].encode(), "time copied byte for byte"
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert headers["content-type"] == b"application/json"
    assert json.loads(wire.value) == DUE
    assert event_of(decode_message(wire.value, wire.headers)).envelope == envelope


def test_binary_mode_from_the_sdk_2x() -> None:
    event = CloudEvent2(
        {**ATTRS, "time": datetime(2024, 1, 10, 0, 0, tzinfo=UTC), "datacontenttype": "application/json"}, DUE
    )
    message = ce2.to_binary(event, JSONFormat())
    parsed = event_of(decode_message(message.value, headers_of(message.headers)))
    assert parsed.envelope.time == "2024-01-10T00:00:00Z"
    assert parsed.envelope.data == DUE and parsed.id == "evt-1"


def test_binary_mode_from_the_sdk_1x_keeps_unknown_extensions() -> None:
    event = CloudEvent1(
        {**ATTRS, "datacontenttype": "application/json", "tenant": "cn-east", "partitionkey": "acc-7"}, DUE
    )
    message = ce1.to_binary(event)
    parsed = event_of(decode_message(message.value, headers_of(message.headers)))
    assert parsed.envelope.time == ATTRS["time"]
    assert parsed.envelope.extensions == {"tenant": "cn-east"}


def test_binary_mode_with_a_partitionkey_header_and_only_a_traceparent_header() -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_source", b"s"),
        ("ce_type", b"payment.due"),
        ("ce_subject", b"acc-7"),
        ("ce_time", b"2024-01-10T00:00:00Z"),
        ("ce_partitionkey", b"acc-7"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    parsed = event_of(decode_message(json.dumps(DUE).encode(), headers))
    assert parsed.envelope.extensions == {"partitionkey": "acc-7"}
    assert parsed.envelope.traceparent == TRACEPARENT
    assert parsed.envelope.datacontenttype == "application/json"


# -- structured mode ---------------------------------------------------------------------------
def test_structured_mode_from_the_sdk_2x() -> None:
    event = CloudEvent2(
        {**ATTRS, "time": datetime(2024, 1, 10, tzinfo=UTC), "datacontenttype": "application/json", "region": "eu"},
        DUE,
    )
    message = ce2.to_structured(event, JSONFormat())
    assert message.headers["content-type"] == b"application/cloudevents+json"
    parsed = event_of(decode_message(message.value, headers_of(message.headers)))
    assert parsed.envelope.extensions == {"region": "eu"}
    assert parsed.envelope.data == DUE


def test_structured_mode_in_the_1x_layout_with_application_json() -> None:
    # The 1.x SDK takes `datacontenttype` out of the JSON and sends it as the content-type header.
    event = CloudEvent1({**ATTRS, "datacontenttype": "application/json", "partitionkey": "acc-7"}, DUE)
    message = ce1.to_structured(event)
    assert message.headers == {"content-type": b"application/json"}
    assert "datacontenttype" not in json.loads(message.value)
    parsed = event_of(decode_message(message.value, headers_of(message.headers)))
    assert parsed.envelope.time == ATTRS["time"]
    assert parsed.envelope.extensions == {"partitionkey": "acc-7"}


def test_a_plain_json_envelope_is_structured_whatever_its_content_type() -> None:
    value = json.dumps({"specversion": "1.0", **ATTRS, "datacontenttype": "application/json", "data": DUE}).encode()
    for headers in ([], [("content-type", b"application/json")], [("content-type", b"text/plain")]):
        assert event_of(decode_message(value, headers)).envelope.data == DUE


def test_structured_data_base64_is_read() -> None:
    obj = {"specversion": "1.0", **ATTRS, "data_base64": base64.b64encode(json.dumps(DUE).encode()).decode()}
    assert event_of(decode_message(json.dumps(obj).encode(), [])).envelope.data == DUE


# -- unreadable ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "headers", "words"),
    [
        (b"\x00{not json", [], "unreadable JSON"),
        (b"", [], "empty value"),
        (None, [], "empty value"),
        (b'{"id": "x"}', [], "neither binary mode"),
        (b"[1, 2]", [("content-type", b"application/cloudevents+json")], "neither binary mode"),
        (b"\xff\xfe", [("ce_specversion", b"1.0"), ("ce_id", b"x")], "data: unreadable JSON"),
        (b'{"a":1}', [("ce_specversion", b"\xff\xfe")], "specversion"),
        (b"[" * 5000, [], "unreadable JSON: nested too deeply"),
        (b"[" * 5000, [("ce_specversion", b"1.0"), ("ce_id", b"x")], "data: unreadable JSON: nested too deeply"),
        (b"9" * 5000, [("ce_specversion", b"1.0"), ("ce_id", b"x")], "data: unreadable JSON: a number with too many"),
        (b'{"specversion": "1.0", "id": "a\\ud800"}', [], "unreadable JSON: a \\u escape of a lone surrogate"),
        (b'{"a": "\\udfff"}', [("ce_specversion", b"1.0"), ("ce_id", b"x")], "data: unreadable JSON: a \\u escape"),
        (b'{"specversion": "1.0", "data_base64": "%%%"}', [], "data_base64: not base64"),
        (b'{"specversion": "1.0", "data_base64": "/w=="}', [], "data_base64: unreadable JSON"),
    ],
)
def test_unreadable_messages_are_rejections_with_a_reason(value: bytes | None, headers: Any, words: str) -> None:
    parsed = decode_message(value, headers)
    assert isinstance(parsed, Rejection)
    assert words in parsed.reason


def test_a_binary_message_with_bad_data_keeps_its_id_for_the_rejection() -> None:
    parsed = decode_message(b"not json", [("ce_specversion", b"1.0"), ("ce_id", b"evt-9"), ("ce_type", b"payment.due")])
    assert isinstance(parsed, Rejection)
    assert (parsed.event_id, parsed.type) == ("evt-9", "payment.due")


@given(st.binary(max_size=200), st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=6))
def test_decoding_never_raises(value: bytes, headers: list[tuple[str, bytes]]) -> None:
    assert isinstance(decode_message(value, headers), Event | Rejection)


# -- against the broker: Kafka's own ConsoleProducer and confluent-kafka -------------------------
def kafka_libs() -> Path:
    cache = Path(os.environ.get("COLLECTIONS_CACHE", Path.home() / ".cache" / "collections"))
    libs = cache / "kafka" / "libs"
    if not any(libs.glob("kafka-tools-*.jar")):
        subprocess.run([str(ROOT / "deploy" / "local" / "kafka.sh"), "install"], check=True, capture_output=True)
    return libs


def expected_partition(key: bytes, partitions: int) -> int:
    all_partitions = list(range(partitions))
    return int(DefaultPartitioner()(key, all_partitions, all_partitions))


@pytest.mark.kafka
async def test_messages_from_kafkas_console_producer(kafka_bootstrap: str) -> None:
    java = shutil.which("java")
    assert java, "Java is needed for the broker itself"
    topic = unique_topics_config().topics.billing
    await ensure_topics(KafkaSettings(kafka_bootstrap, partitions=3), [topic])
    structured = json.dumps({"specversion": "1.0", **ATTRS, "data": DUE})
    binary_headers = ",".join(
        f"{k}:{v}"
        for k, v in {
            "ce_specversion": "1.0",
            "ce_id": "evt-2",
            "ce_source": "console",
            "ce_type": "payment.due",
            "ce_subject": "acc-8",
            "ce_time": "2024-01-10T00:00:00Z",
            "content-type": "application/json",
        }.items()
    )
    lines = [
        f"{binary_headers}\tacc-8\t{json.dumps({**DUE, 'account_id': 'acc-8'})}",
        f"content-type:application/json\tacc-7\t{structured}",
    ]
    console = await asyncio.create_subprocess_exec(
        java,
        "-cp",
        f"{kafka_libs()}/*",
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        kafka_bootstrap,
        "--topic",
        topic,
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(console.communicate(("\n".join(lines) + "\n").encode()), timeout=120)
    assert console.returncode == 0, output.decode(errors="replace")
    records = await consume_all(kafka_bootstrap, [topic], until=lambda r: len(r) >= 2, timeout=60)
    partitions = len(await topic_partitions(kafka_bootstrap, [topic]))
    by_id = {}
    for record in records:
        parsed = event_of(decode_record(record))
        by_id[parsed.id] = parsed
        assert record.partition == expected_partition(record.key, partitions), "Java's murmur2 = aiokafka's"
    assert by_id["evt-2"].envelope.subject == "acc-8" and by_id["evt-2"].envelope.data["account_id"] == "acc-8"
    assert by_id["evt-1"].envelope.time == ATTRS["time"]


@pytest.mark.kafka
async def test_messages_from_confluent_kafka_with_murmur2_random(kafka_bootstrap: str) -> None:
    from confluent_kafka import Producer

    topic = unique_topics_config().topics.billing
    await ensure_topics(KafkaSettings(kafka_bootstrap, partitions=3), [topic])
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random", "enable.idempotence": True}
    )
    keys = [f"acc-{n}" for n in range(20)]
    for key in keys:
        data = {**DUE, "account_id": key}
        if int(key.split("-")[1]) % 2:
            message = ce2.to_binary(
                CloudEvent2(
                    {**ATTRS, "id": f"cf-{key}", "subject": key, "time": datetime(2024, 1, 10, tzinfo=UTC)}, data
                ),
                JSONFormat(),
            )
        else:
            message = ce2.to_structured(
                CloudEvent2(
                    {**ATTRS, "id": f"cf-{key}", "subject": key, "time": datetime(2024, 1, 10, tzinfo=UTC)}, data
                ),
                JSONFormat(),
            )
        producer.produce(topic, key=key.encode(), value=message.value, headers=list(message.headers.items()))
    assert producer.flush(30) == 0
    records = await consume_all(kafka_bootstrap, [topic], until=lambda r: len(r) >= len(keys), timeout=60)
    partitions = len(await topic_partitions(kafka_bootstrap, [topic]))
    assert {event_of(decode_record(r)).id for r in records} == {f"cf-{k}" for k in keys}
    for record in records:
        assert record.partition == expected_partition(record.key, partitions), "librdkafka murmur2 = aiokafka's"
    assert len({r.partition for r in records}) > 1
