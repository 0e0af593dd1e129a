"""Turn anything a producer sent into a typed event or a rejection that names the field and reason.

Never raises for bad input: a consumer must go on after a bad event (contract.md, system.event_rejected).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from collections_events.envelope import JSON_CONTENT_TYPE, Envelope
from collections_events.fields import MAX_ID_CHARS, MAX_INSTANT_CHARS, MAX_LABEL_CHARS, MAX_TEXT_CHARS
from collections_events.registry import EVENT_TYPES

MAX_EVENT_BYTES = 256 * 1024
"""The largest inbound message accepted (README, Limits): its UTF-8 bytes, all of the envelope in
structured mode, or the value plus the headers in binary mode. Larger ones are refused before they are
parsed, so no oversized payload (a 3 MB unknown field) is ever stored; a valid event is a few KiB."""

ATTRIBUTE_LIMITS: dict[str, int] = {
    "id": MAX_ID_CHARS,
    "type": MAX_LABEL_CHARS,
    "subject": MAX_ID_CHARS,
    "source": MAX_TEXT_CHARS,
    "time": MAX_INSTANT_CHARS,
    "datacontenttype": MAX_LABEL_CHARS,
    "specversion": MAX_LABEL_CHARS,
    "traceparent": MAX_LABEL_CHARS,
}
"""The longest value, in characters, of each envelope attribute the platform reads (README, Limits)."""


@dataclass(frozen=True)
class Event:
    """A valid event: its envelope and its data as the contract's typed model."""

    envelope: Envelope
    data: BaseModel

    @property
    def id(self) -> str:
        """The event id (the dedupe key)."""
        return self.envelope.id

    @property
    def type(self) -> str:
        """The CloudEvents type."""
        return self.envelope.type


@dataclass(frozen=True)
class Rejection:
    """Why an inbound event was refused; what could be read of it is kept (`None` otherwise)."""

    reason: str
    event_id: str | None = None
    type: str | None = None
    subject: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        # A rejection is published (system.event_rejected): it must stay within the contract's limits
        # whatever it was made from, so an over-long attribute is not kept and the reason is cut.
        for name in ("event_id", "type", "subject", "time"):
            value = getattr(self, name)
            too_long = value is not None and len(value) > ATTRIBUTE_LIMITS["id" if name == "event_id" else name]
            if too_long or (value is not None and "\x00" in value):  # PostgreSQL's text holds no NUL
                object.__setattr__(self, name, None)
        if len(self.reason) > MAX_TEXT_CHARS:
            object.__setattr__(self, "reason", self.reason[: MAX_TEXT_CHARS - 1] + "…")


def describe(error: ValidationError, prefix: str = "") -> str:
    """One line naming each bad field by its path and the reason, e.g. `data.amount_minor: ...`."""
    parts = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{prefix}{path}: {message}" if path else f"{prefix.rstrip('.')}: {message}")
    return "; ".join(parts)


def read_structured(obj: Any, *, inbound_only: bool = False) -> Event | Rejection:
    """Validate one structured-mode event (a JSON object already decoded).

    `inbound_only` refuses the platform's own types (replay input holds what other systems publish).
    """
    if not isinstance(obj, dict):
        return Rejection(reason="event must be a JSON object")
    event_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    type_name = obj.get("type") if isinstance(obj.get("type"), str) else None
    subject = obj.get("subject") if isinstance(obj.get("subject"), str) else None
    time = obj.get("time") if isinstance(obj.get("time"), str) else None

    def reject(reason: str) -> Rejection:
        return Rejection(reason=reason, event_id=event_id, type=type_name, subject=subject, time=time)

    too_long = _over_long_attribute(obj)
    if too_long:
        return reject(too_long)
    for name, value in obj.items():
        if name != "data" and isinstance(value, str) and "\x00" in value:  # a binary-mode header
            return reject(f"{name}: holds a NUL character, which no attribute may hold")
    if "data_base64" in obj:
        # CloudEvents JSON format: `data` and `data_base64` are mutually exclusive, and every event
        # of the contract carries JSON, so base64 data is never right here.
        return reject("data_base64: not accepted; the contract's events carry JSON in `data`")
    try:
        envelope = Envelope.from_structured(obj)
    except ValidationError as exc:
        return reject(describe(exc))
    except (TypeError, ValueError) as exc:
        return reject(str(exc))
    if envelope.datacontenttype.split(";")[0].strip() != JSON_CONTENT_TYPE:
        return reject(f"datacontenttype: must be {JSON_CONTENT_TYPE}")
    entry = EVENT_TYPES.get(envelope.type)
    if entry is None:
        return reject(f"type: unknown event type {envelope.type!r}")
    if inbound_only and not entry.inbound:
        return reject(f"type: {envelope.type!r} is published by the platform, not to it")
    try:
        data = entry.model.model_validate(envelope.data)
    except ValidationError as exc:
        return reject(describe(exc, prefix="data."))
    mismatch = _subject_mismatch(envelope, data)
    if mismatch:
        return reject(mismatch)
    return Event(envelope=envelope, data=data)


def _over_long_attribute(obj: dict[str, Any]) -> str | None:
    for name, limit in ATTRIBUTE_LIMITS.items():
        value = obj.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"{name}: too long ({len(value):,} characters; at most {limit:,})"
    return None


def oversized(size: int) -> str | None:
    """The rejection reason for a message of `size` bytes when it exceeds MAX_EVENT_BYTES, else None."""
    if size <= MAX_EVENT_BYTES:
        return None
    return f"too large: {size:,} bytes; an inbound event is at most {MAX_EVENT_BYTES:,} bytes (README, Limits)"


def _subject_mismatch(envelope: Envelope, data: BaseModel) -> str | None:
    # Kafka keeps order per key, and the key is the subject: a subject that is not the account would
    # put the account's events on different partitions.
    if envelope.type == "day.closed":
        return None if envelope.subject == "clock" else "subject: must be 'clock' for day.closed"
    account_id = getattr(data, "account_id", None)
    if account_id is not None and account_id != envelope.subject:
        return "subject: must equal data.account_id"
    return None


def read_json(text: str | bytes, *, inbound_only: bool = False) -> Event | Rejection:
    """Validate one event given as structured-mode JSON text (a replay line, a Kafka value).

    Text longer than MAX_EVENT_BYTES (in UTF-8) is refused unparsed.
    """
    size = len(text) if isinstance(text, bytes) or text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    too_large = oversized(size)
    if too_large:
        return Rejection(reason=too_large)
    try:
        obj = load_json(text)
    except UnreadableJSONError as exc:
        return Rejection(reason=str(exc))
    return read_structured(obj, inbound_only=inbound_only)


class UnreadableJSONError(ValueError):
    """Bytes or text that are not UTF-8 JSON the platform can read; the message is a rejection reason."""


def load_json(text: str | bytes, prefix: str = "") -> Any:
    """The JSON value of `text` (bytes must be UTF-8, contract.md). Raises UnreadableJSONError with a
    reason a person can read (`prefix` names the part, e.g. `data: `), never another error: nesting
    deeper than the parser's recursion limit and integers beyond Python's digit limit (4,300) are
    refused as such rather than ending the run (issue 15)."""
    try:
        # Decoded first: json.loads would also guess UTF-16/32 from a BOM.
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        value = json.loads(decoded)
        if "\\u" in decoded:
            if _LONE_SURROGATE_ESCAPE.search(decoded) and _holds(value, _is_surrogate):
                reason = "unreadable JSON: a \\u escape of a lone surrogate (not Unicode text)"
                raise UnreadableJSONError(prefix + reason)
            if "\\u0000" in decoded and _holds(value, _is_nul):
                # PostgreSQL's text cannot hold U+0000: such an event would fail there and not here.
                reason = "unreadable JSON: a NUL character (\\u0000), which no text field may hold"
                raise UnreadableJSONError(prefix + reason)
        return value
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnreadableJSONError(unreadable_reason(exc, prefix)) from None
    except UnreadableJSONError:
        raise
    except RecursionError:
        raise UnreadableJSONError(f"{prefix}unreadable JSON: nested too deeply") from None
    except ValueError:  # int("…4,301 digits…"): Python refuses to convert, by design
        raise UnreadableJSONError(f"{prefix}unreadable JSON: a number with too many digits") from None


_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""An escape in the surrogate range; a valid pair decodes to one character, a lone one stays a
surrogate that no UTF-8 encoder (SQLite's, PostgreSQL's, Kafka's clients) accepts."""


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def _is_nul(ch: str) -> bool:
    return ch == "\x00"


def _holds(value: Any, bad: Callable[[str], bool]) -> bool:
    """Whether any string (key or value) in `value` has a character `bad` is true of."""
    stack = [value]
    while stack:  # iterative: the value may be nested as deep as the parser allowed
        item = stack.pop()
        if isinstance(item, str):
            if any(bad(ch) for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def unreadable_reason(exc: json.JSONDecodeError | UnicodeDecodeError, prefix: str = "") -> str:
    """A reason a person can read for bytes that are not UTF-8 JSON (no codec's message).

    `unreadable JSON: not UTF-8 text (byte 0)` or `unreadable JSON: not JSON (line 1, column 2:
    Expecting property name enclosed in double quotes)`; `prefix` names the part (`data: `).
    """
    if isinstance(exc, UnicodeDecodeError):
        return f"{prefix}unreadable JSON: not UTF-8 text (byte {exc.start})"
    return f"{prefix}unreadable JSON: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
