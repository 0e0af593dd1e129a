"""The embedded log drops what every consumer has read, so a replay's memory does not grow with its
output (issue 14: 18,401 lines kept every one of 82,000 records); positions stay absolute."""

from __future__ import annotations

from collections_events.testing import make_event
from collections_events.transport.embedded import EmbeddedLog


def _fill(log: EmbeddedLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append("clock", make_event("day.closed", {"as_of": "2024-01-05"}, event_id=f"e{i}"))


def test_records_every_consumer_read_are_dropped_and_reads_go_on_where_they_were() -> None:
    log = EmbeddedLog()
    _fill(log, 10)
    fast = log.pending("fast", ["clock"], limit=100)
    log.commit("fast", fast[-1])
    slow = log.pending("slow", ["clock"], limit=4)
    log.commit("slow", slow[-1])
    log.compact(["fast", "slow"], keep_at_least=1)
    assert [r.seq for r in log.records] == list(range(4, 10))  # slow has read 0..3
    assert [r.event.id for r in log.pending("slow", ["clock"])] == [f"e{i}" for i in range(4, 10)]
    _fill(log, 3, start=10)
    assert [r.seq for r in log.pending("fast", ["clock"])] == [10, 11, 12]


def test_nothing_is_dropped_below_the_threshold_or_before_a_consumer_has_read() -> None:
    log = EmbeddedLog()
    _fill(log, 10)
    log.commit("fast", log.pending("fast", ["clock"])[-1])
    log.compact(["fast", "never-read"], keep_at_least=1)
    assert len(log.records) == 10  # "never-read" is still at the start
    log.compact(["fast"], keep_at_least=11)
    assert len(log.records) == 10  # 10 could go, 11 are needed at once
    log.compact(["fast"], keep_at_least=10)
    assert log.records == [] and log.pending("fast", ["clock"]) == []
