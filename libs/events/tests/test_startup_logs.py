"""aiokafka's coordinator-wait warnings are held back until the consumer has partitions (issue 15:
about ten per service at every start), counted, then shown again."""

from __future__ import annotations

import logging

import pytest

from collections_events.runtime.startup_logs import COORDINATOR_LOGGER, hold_back_coordinator_waits, remove


def test_waits_are_held_back_until_started_and_shown_after(caplog: pytest.LogCaptureFixture) -> None:
    found = hold_back_coordinator_waits()
    logger = logging.getLogger(COORDINATOR_LOGGER)
    try:
        with caplog.at_level(logging.WARNING, logger=COORDINATOR_LOGGER):
            logger.warning("Marking the coordinator dead (node %s) for group %s.", 1, "collections-ledger")
            logger.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
            logger.warning("Heartbeat failed for group collections-ledger")  # not a wait: shown
            assert [r.getMessage() for r in caplog.records] == ["Heartbeat failed for group collections-ledger"]
            assert found.held_back == 2
            found.started()
            logger.warning("Marking the coordinator dead (node %s) for group %s.", 1, "collections-ledger")
            assert len(caplog.records) == 2, "after the start a lost coordinator is shown"
    finally:
        remove(found)
    assert found not in logger.filters
