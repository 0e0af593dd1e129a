"""Kafka wire format and client settings (contract.md, Envelope; decision 0003).

- Out: binary content mode made with the CloudEvents SDK (`ce_*` headers, `content-type`, the W3C
  `traceparent` header, value = `data` as JSON), keyed by `subject`; placed by aiokafka's default
  partitioner (murmur2 of the key, as the Java client does).
- In: binary mode, structured mode (`content-type: application/cloudevents+json`), and any value that
  is a JSON object holding `specversion` with no `ce_specversion` header (older SDKs put
  `application/json` in `content-type`, and the 1.x SDK moves `datacontenttype` into that header).
  Unknown extension attributes are kept. Anything unreadable becomes a `Rejection`, never an exception.

Attribute values are read from the raw headers/JSON, not through the SDK's event classes, because
the SDK parses `time` into a datetime and renders it back differently; the platform copies the
cause's `time` byte for byte (decision 0004), so the original string must survive.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from collections_events.envelope import Envelope, parse_instant
from collections_events.registry import EVENT_TYPES
from collections_events.validation import Event, Rejection, UnreadableJSONError, load_json, oversized, read_structured

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
TRACEPARENT_HEADER = "traceparent"
DLQ_SUFFIX = ".dlq"
DLQ_REASON_HEADER = "dlq.reason"
DLQ_CONSUMER_HEADER = "dlq.consumer"
DLQ_POSITION_HEADER = "dlq.position"
_JSON = JSONFormat()
_SDK_EXTENSION_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

Headers = Sequence[tuple[str, bytes]]


class KafkaRecord(Protocol):
    """What the decoder needs of a consumed message (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class WireMessage:
    """One Kafka message to send: key, value and headers as bytes."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


# -- encoding ----------------------------------------------------------------------------------
def encode_binary(envelope: Envelope, traceparent: str | None = None) -> WireMessage:
    """`envelope` in Kafka binary content mode, keyed by its subject.

    The SDK makes the `ce_*` headers and the value; `ce_time` is then set to the envelope's own
    string (the SDK would re-render the parsed instant). `traceparent` (else the envelope's) is sent
    both as the W3C `traceparent` header and as the CloudEvents `ce_traceparent` attribute.
    """
    trace = traceparent or envelope.traceparent
    attributes: dict[str, Any] = {
        "specversion": envelope.specversion,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": parse_instant(envelope.time),
        "datacontenttype": envelope.datacontenttype,
    }
    extra_headers: list[tuple[str, bytes]] = []
    for name, value in envelope.extensions.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if name and set(name) <= _SDK_EXTENSION_NAME:
            attributes[name] = text
        else:  # a name the SDK refuses; still a header, so nothing is lost
            extra_headers.append((f"ce_{name}", text.encode("utf-8")))
    if trace:
        attributes["traceparent"] = trace
    message = ce_kafka.to_binary(
        CloudEvent(attributes, envelope.data), _JSON, key_mapper=lambda _event: envelope.subject
    )
    headers = dict(message.headers)
    headers["ce_time"] = envelope.time.encode("utf-8")
    out = list(headers.items()) + extra_headers
    if trace:
        out.append((TRACEPARENT_HEADER, trace.encode("ascii")))
    return WireMessage(key=envelope.subject.encode("utf-8"), value=message.value, headers=out)


def encode_outbox_row(structured_json: str, traceparent: str | None) -> WireMessage:
    """An outbox row (structured JSON as the store keeps it) in binary mode.

    Raises ValueError when the row is not a valid envelope (a bug: the store only writes valid ones).
    """
    return encode_binary(Envelope.from_structured(json.loads(structured_json)), traceparent)


# -- decoding ----------------------------------------------------------------------------------
def decode_record(record: KafkaRecord) -> Event | Rejection:
    """Read one consumed message as a validated event, or a rejection naming what is wrong."""
    return decode_message(record.value, record.headers)


def on_its_topic(parsed: Event | Rejection, topic_key: str, topic_name: str) -> Event | Rejection:
    """`parsed`, or a rejection when its type belongs to another topic than the one it came on.

    Replay routes each input event by its type, so it never applies an event on the wrong topic;
    a service reading Kafka must not either (a `payment.received` on the billing topic, a platform
    type on a lender's topic): one rejection, answered by the topic's owner, naming both.
    """
    if not isinstance(parsed, Event):
        return parsed
    entry = EVENT_TYPES.get(parsed.type)
    if entry is None or entry.topic == topic_key:
        return parsed
    env = parsed.envelope
    where = "is published by the platform" if not entry.inbound else f"belongs on the {entry.topic} topic"
    return Rejection(
        reason=f"type: {parsed.type!r} does not belong on topic {topic_name!r}; it {where}",
        event_id=env.id,
        type=env.type,
        subject=env.subject,
        time=env.time,
    )


def decode_message(value: bytes | None, headers: Iterable[tuple[str, bytes | None]]) -> Event | Rejection:
    """Read a message given as its value and headers (binary or structured mode). Never raises.

    A message over MAX_EVENT_BYTES (value and headers) is refused before it is parsed.
    """
    try:
        headers = list(headers)
        too_large = oversized(len(value or b"") + sum(len(k) + len(v or b"") for k, v in headers))
        if too_large:
            return Rejection(reason=too_large)
        return _decode(value, _header_map(headers))
    except Exception as exc:  # the contract: a bad message is a rejection, never a stopped consumer
        return Rejection(reason=f"unreadable message: {type(exc).__name__}: {exc}"[:500])


def _header_map(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers:
        key = name.lower()
        if key in out or raw is None:
            continue  # the first of repeated headers wins
        out[key] = raw.decode("utf-8", errors="replace")
    return out


def _decode(value: bytes | None, headers: Mapping[str, str]) -> Event | Rejection:
    if "ce_specversion" in headers:
        return _decode_binary(value, headers)
    if value is None or not value.strip():
        return Rejection(reason="unreadable message: empty value and no ce_specversion header")
    try:
        obj = load_json(value)
    except UnreadableJSONError as exc:
        return Rejection(reason=str(exc))
    if not isinstance(obj, dict) or "specversion" not in obj:
        return Rejection(
            reason="unreadable message: neither binary mode (ce_specversion header) "
            "nor structured mode (a JSON object holding specversion)"
        )
    return _decode_structured(obj, headers)


def _decode_binary(value: bytes | None, headers: Mapping[str, str]) -> Event | Rejection:
    obj: dict[str, Any] = {k.removeprefix("ce_"): v for k, v in headers.items() if k.startswith("ce_")}
    if "content-type" in headers:
        obj["datacontenttype"] = headers["content-type"]
    if "traceparent" not in obj and TRACEPARENT_HEADER in headers:
        obj["traceparent"] = headers[TRACEPARENT_HEADER]
    if value is None or not value.strip():
        return _reject(obj, "data: missing (empty message value)")
    try:
        obj["data"] = load_json(value, prefix="data: ")
    except UnreadableJSONError as exc:
        return _reject(obj, str(exc))
    return read_structured(obj)


def _decode_structured(obj: dict[str, Any], headers: Mapping[str, str]) -> Event | Rejection:
    obj = dict(obj)
    content_type = headers.get("content-type", "")
    if "datacontenttype" not in obj and content_type and not _is_structured(content_type):
        # The 1.x SDK moves `datacontenttype` out of the JSON into the content-type header.
        obj["datacontenttype"] = content_type
    if "data" not in obj and isinstance(obj.get("data_base64"), str):
        try:
            decoded = base64.b64decode(obj.pop("data_base64"), validate=True)
        except ValueError:
            return _reject(obj, "data_base64: not base64")
        try:
            obj["data"] = load_json(decoded, prefix="data_base64: ")
        except UnreadableJSONError as exc:
            return _reject(obj, str(exc))
    if "traceparent" not in obj and TRACEPARENT_HEADER in headers:
        obj["traceparent"] = headers[TRACEPARENT_HEADER]
    return read_structured(obj)


def _is_structured(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == STRUCTURED_CONTENT_TYPE


def _reject(obj: Mapping[str, Any], reason: str) -> Rejection:
    def text(name: str) -> str | None:
        value = obj.get(name)
        return value if isinstance(value, str) else None

    return Rejection(reason=reason, event_id=text("id"), type=text("type"), subject=text("subject"), time=text("time"))


# -- dead letters ------------------------------------------------------------------------------
def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of `topic` (contract.md: `<topic>.dlq`)."""
    return topic + DLQ_SUFFIX


def dead_letter_headers(original: Headers, *, reason: str, consumer: str, position: str) -> list[tuple[str, bytes]]:
    """The original headers untouched, then `dlq.reason`, `dlq.consumer` and `dlq.position`."""
    return [
        *[(name, raw) for name, raw in original],
        (DLQ_REASON_HEADER, reason[:1000].encode("utf-8")),
        (DLQ_CONSUMER_HEADER, consumer.encode("utf-8")),
        (DLQ_POSITION_HEADER, position.encode("utf-8")),
    ]


# -- client settings ---------------------------------------------------------------------------
def kafka_options_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """aiokafka security options from KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_MECHANISM /
    KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (empty for a plaintext broker).

    SSL and SASL_SSL get a default SSL context (system CAs).
    """
    env = os.environ if env is None else env
    options: dict[str, Any] = {}
    protocol = env.get("KAFKA_SECURITY_PROTOCOL")
    if protocol:
        options["security_protocol"] = protocol
        if protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context()
    if env.get("KAFKA_SASL_MECHANISM"):
        options["sasl_mechanism"] = env["KAFKA_SASL_MECHANISM"]
    if env.get("KAFKA_SASL_USERNAME"):
        options["sasl_plain_username"] = env["KAFKA_SASL_USERNAME"]
    if env.get("KAFKA_SASL_PASSWORD"):
        options["sasl_plain_password"] = env["KAFKA_SASL_PASSWORD"]
    return options


def producer_settings() -> dict[str, Any]:
    """The producer's fixed settings: idempotent, every in-sync replica acknowledges.

    The partitioner is aiokafka's default (murmur2 of the key bytes, like the Java client).
    """
    return {"enable_idempotence": True, "acks": "all", "linger_ms": 2}


async def fetch_until_stopped(
    consumer: AIOKafkaConsumer, stop: asyncio.Event, *, max_records: int, timeout_ms: int = 500
) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] | None:
    """The next batch of `consumer.getmany` (possibly empty), or None once `stop` is set.

    A stop while a fetch is in flight cancels the fetch, so a SIGTERM never waits for the poll's
    timeout and no record is taken that will not be handled.
    """
    fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not fetch.done():
        fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fetch
        return None
    batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = fetch.result()
    return batches
