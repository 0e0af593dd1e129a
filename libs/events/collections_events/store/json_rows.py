"""JSON for what a service keeps in its own rows: snapshots and event-log data (not what it publishes).

Snapshots are encoded on every save and decoded on every batch's prefetch, and each appended event's
data is encoded once more for the log: in the profile of a service on Kafka + PostgreSQL these were
10-15 % of its time with the standard library (issue 14). orjson does the same work several times
faster and writes the same text for these values (strings, integers, lists, objects, null, booleans;
UTF-8 kept, compact separators, insertion order or sorted keys). What the platform publishes is
still encoded by the standard library (outbox.py), whose bytes replay's output is defined by.
Integers beyond 64 bits go through the standard library both ways, so nothing that encoded or
read before fails or changes now.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# orjson reads an integer beyond 64 bits as a float (silently losing digits): text holding a run of
# 19 digits (in a number or a string, it cannot tell cheaply) is read by the standard library.
_LONG_DIGITS = re.compile(r"\d{19}")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """`value` as compact JSON text (non-ASCII kept; keys sorted when `sort_keys`). Raises TypeError
    for a value JSON cannot hold, as `json.dumps` does."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def loads(text: str | bytes) -> Any:
    """The value of JSON `text` (as written by `dumps` or by the standard library before it).
    Raises ValueError on text that is not JSON."""
    if _LONG_DIGITS.search(text if isinstance(text, str) else text.decode("utf-8", "replace")):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
