"""`system.event_rejected` for an inbound event that is invalid (contract.md)."""

from __future__ import annotations

from collections_events.envelope import Envelope, parse_instant
from collections_events.ids import derive_id
from collections_events.outbound import EventRejected
from collections_events.validation import Rejection

EPOCH = "1970-01-01T00:00:00Z"
UNKNOWN_SUBJECT = "unknown"


def rejection_envelope(rejection: Rejection, *, source: str, position: str, line: int | None = None) -> Envelope:
    """The rejection event for `rejection`.

    Its id is UUIDv5 of the rejected event's id (or, when it has none, of `position`: the replay
    line or the Kafka topic/partition/offset) and its `time` the rejected event's own `time` when
    that is a valid instant, else the epoch: never the wall clock, so replays are identical.
    """
    time = rejection.time if rejection.time and _valid(rejection.time) else EPOCH
    data = EventRejected(event_id=rejection.event_id, type=rejection.type, line=line, reason=rejection.reason)
    return Envelope(
        id=derive_id(rejection.event_id or position, "rejected"),
        source=source,
        type="system.event_rejected",
        subject=rejection.subject or UNKNOWN_SUBJECT,
        time=time,
        data=data.model_dump(mode="json"),
    )


def _valid(value: str) -> bool:
    try:
        parse_instant(value)
    except ValueError:
        return False
    return True
