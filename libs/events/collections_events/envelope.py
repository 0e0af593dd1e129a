"""The CloudEvents 1.0 envelope as the platform reads and writes it (contract.md, Envelope).

The envelope keeps `time` as the exact RFC 3339 string it was given: the platform copies the
cause's `time` onto every event it publishes, and a replay must give byte-identical output.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
# Attributes the envelope names itself; anything else is an extension attribute (kept, never an error).
CORE_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data", "traceparent"}
)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


FIRST_YEAR, LAST_YEAR = 1900, 2999
"""The years an instant may lie in (the business dates' range, fields.FIRST_DATE/LAST_DATE)."""


def parse_instant(value: str) -> datetime:
    """Parse an RFC 3339 instant (`2026-01-11T23:30:00Z`, `...+08:00`); it must carry `Z` or an offset.

    Raises ValueError for anything else: a naive time is ambiguous, and the ISO 8601 forms that
    RFC 3339 does not allow (`20260111T233000Z`, no seconds) are refused, as are years outside
    FIRST_YEAR..LAST_YEAR.
    """
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("an instant is RFC 3339: YYYY-MM-DDTHH:MM:SS[.fff] with Z or a UTC offset")
    text = value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("an instant needs `Z` or a UTC offset")
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # 9999-12-31T23:59:59Z overflowed a later conversion to the customer's timezone.
        raise ValueError(f"an instant lies in the years {FIRST_YEAR} to {LAST_YEAR}")
    return parsed


class Envelope(BaseModel):
    """One CloudEvents 1.0 event in structured form: attributes, `data` as a JSON object.

    `extensions` holds unknown extension attributes (e.g. `partitionkey`) so they are kept.
    Raises pydantic.ValidationError when an attribute is missing or malformed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = SPECVERSION
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    time: str
    datacontenttype: str = JSON_CONTENT_TYPE
    data: dict[str, Any]
    traceparent: str | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)

    @field_validator("specversion")
    @classmethod
    def _specversion(cls, value: str) -> str:
        if value != SPECVERSION:
            raise ValueError(f"specversion must be {SPECVERSION!r}")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_instant(value)
        return value

    @property
    def instant(self) -> datetime:
        """`time` as an aware datetime (its own offset kept)."""
        return parse_instant(self.time)

    def to_structured(self) -> dict[str, Any]:
        """The whole envelope as one JSON object (structured mode); extensions at top level."""
        out: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
        }
        if self.traceparent is not None:
            out["traceparent"] = self.traceparent
        for key in sorted(self.extensions):
            out[key] = self.extensions[key]
        out["data"] = self.data
        return out

    @classmethod
    def from_structured(cls, obj: dict[str, Any]) -> Envelope:
        """Read a structured-mode object; unknown top-level attributes become extensions.

        Raises pydantic.ValidationError (missing/malformed attribute) or ValueError.
        """
        known = {k: v for k, v in obj.items() if k in CORE_ATTRIBUTES}
        extensions = {k: v for k, v in obj.items() if k not in CORE_ATTRIBUTES}
        return cls(**known, extensions=extensions)
