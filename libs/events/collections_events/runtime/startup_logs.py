"""aiokafka's "the group coordinator is not there yet" warnings while a service starts (issue 15).

A consumer that starts beside a broker that has just created its topics (`make up`, a rollout)
asks for its group coordinator before the broker has one: aiokafka logs "Marking the coordinator
dead" and "GroupCoordinatorNotAvailableError" at WARNING/ERROR every ~200 ms, about ten lines per
service at every start, until it finds one. They mean "wait", not "something is wrong", and they
drowned the first lines a person reads. Until the consumer has its first partitions they are
counted and held back; the count is logged once, at INFO, when the partitions arrive. After that,
the same warnings are shown as they come (a coordinator lost later is worth seeing).
"""

from __future__ import annotations

import logging

import structlog

COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"
WAITING_MESSAGES = (
    "Marking the coordinator dead",
    "GroupCoordinatorNotAvailableError",
    "Group Coordinator Request failed",
)
log = structlog.get_logger("collections.process")


class CoordinatorWaitFilter(logging.Filter):
    """Holds back the coordinator-wait records until `started()`; counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.starting = True
        self.held_back = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for a coordinator-wait record while starting; True for everything else."""
        if self.starting and any(text in record.getMessage() for text in WAITING_MESSAGES):
            self.held_back += 1
            return False
        return True

    def started(self) -> None:
        """The consumer has its partitions: log how long the wait was, and show later warnings."""
        if self.starting and self.held_back:
            log.info("group coordinator found", coordinator_wait_warnings_held_back=self.held_back)
        self.starting = False


def hold_back_coordinator_waits() -> CoordinatorWaitFilter:
    """Install a CoordinatorWaitFilter on aiokafka's coordinator logger (call `started()` on it,
    and `remove()` when the service stops)."""
    found = CoordinatorWaitFilter()
    logging.getLogger(COORDINATOR_LOGGER).addFilter(found)
    return found


def remove(found: CoordinatorWaitFilter) -> None:
    """Take the filter off aiokafka's coordinator logger again."""
    logging.getLogger(COORDINATOR_LOGGER).removeFilter(found)
