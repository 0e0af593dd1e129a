"""The instrument table of `PlatformMetrics`: every declared attribute is made, and exported as named."""

from __future__ import annotations

from opentelemetry.metrics import Counter, Histogram
from prometheus_client import generate_latest

from collections_events.metrics import INSTRUMENTS, PROMETHEUS_NAMES, PlatformMetrics


def test_every_declared_instrument_has_one_row_and_the_right_kind() -> None:
    declared = {name for name in PlatformMetrics.__annotations__}
    rows = [instrument.attribute for instrument in INSTRUMENTS]
    assert sorted(rows) == sorted(declared)
    assert len(rows) == len(set(rows))
    metrics = PlatformMetrics("ledger")
    for instrument in INSTRUMENTS:
        made = getattr(metrics, instrument.attribute)
        if instrument.kind == "counter":
            assert isinstance(made, Counter)
        elif instrument.kind == "histogram":
            assert isinstance(made, Histogram)
        else:
            assert hasattr(made, "set")


def test_the_exported_family_names_are_exactly_prometheus_names() -> None:
    metrics = PlatformMetrics("ledger")
    for instrument in INSTRUMENTS:
        made = getattr(metrics, instrument.attribute)
        if instrument.kind == "counter":
            made.add(1)
        elif instrument.kind == "histogram":
            made.record(1)
        else:
            made.set(1)
    text = generate_latest(metrics.registry).decode()
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert families == PROMETHEUS_NAMES
