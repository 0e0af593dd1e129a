"""Where a publisher that wants replay's exact output settles (collections_platform.distributed)."""

from __future__ import annotations

from collections_platform.distributed import settle_points


def test_after_each_close_each_change_of_topic_and_the_last_event() -> None:
    types = ["account.opened", "account.opened", "payment.due", "payment.received", "day.closed", "day.closed"]
    #         accounts           accounts          billing        payments            clock          clock
    assert settle_points([{"type": t} for t in types]) == [False, True, True, True, True, True]
    assert settle_points([]) == []
    assert settle_points([{"type": "payment.due"}, {"type": "payment.due"}]) == [False, True]
