"""Which database errors are the event's fault and which are the database's (issue 14, decision 0007).

A consumer must never answer a valid event with `system.event_rejected` because the database had a
bad moment: a deadlock, a serialization failure, a lock or statement timeout, a full disk, a lost
connection. Those are *transient*: the batch is retried, with backoff, until it goes through. Only
an error that the same event would raise again on a healthy database (a handler bug, a value the
schema refuses) is *permanent*, and only that one may end in a rejection.

PostgreSQL errors are classified by SQLSTATE (PostgreSQL manual, Appendix A "PostgreSQL Error
Codes"), never by message text; SQLite's only transient condition is a busy/locked database.
"""

from __future__ import annotations

import sqlite3
from enum import Enum

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError


class Failure(Enum):
    """What a failed unit of work means for the event that was being handled."""

    TRANSIENT = "transient"  # retry the same events later; nothing is rejected
    PERMANENT = "permanent"  # the event itself fails: retry alone, then reject it


# SQLSTATE classes (first two characters) that say nothing about the event being handled.
_TRANSIENT_CLASSES = frozenset(
    {
        "08",  # connection exception
        "40",  # transaction rollback: 40001 serialization_failure, 40P01 deadlock_detected
        "53",  # insufficient resources: 53100 disk_full, 53200 out_of_memory, 53300 too_many_connections
        "57",  # operator intervention: 57014 query_canceled (statement_timeout), 57P01 admin_shutdown
        "58",  # system error: 58030 io_error
        "HV",  # foreign data wrapper errors (a remote server), never the event's fault
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "55P03",  # lock_not_available (lock_timeout, NOWAIT)
        "55006",  # object_in_use
        "25P03",  # idle_in_transaction_session_timeout
        "XX000",  # internal_error raised by the server itself, e.g. a crashed backend's aftermath
    }
)


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of `exc` (or of the driver error it wraps), or None when it has none."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def classify(exc: BaseException) -> Failure:
    """TRANSIENT for a database condition that retrying can outlast, PERMANENT for anything else.

    Transient: the SQLSTATE classes and codes above; a connection lost or never made (SQLAlchemy's
    invalidated connections, `InterfaceError`, OS-level `ConnectionError`/`TimeoutError`); SQLite's
    SQLITE_BUSY/SQLITE_LOCKED. Everything else (a handler's own exception, 22xxx data exceptions,
    23xxx integrity violations that are not optimistic-lock conflicts) is permanent.
    """
    code = sqlstate(exc)
    if code is not None:
        return Failure.TRANSIENT if code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES else Failure.PERMANENT
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Failure.TRANSIENT
    if isinstance(exc, DisconnectionError | InterfaceError | OSError):  # OSError: ConnectionError, TimeoutError
        return Failure.TRANSIENT
    orig = getattr(exc, "orig", None)
    if isinstance(orig, InterfaceError | OSError) or type(orig).__name__.endswith("InterfaceError"):
        return Failure.TRANSIENT
    if isinstance(orig, sqlite3.OperationalError) and _sqlite_busy(orig):
        return Failure.TRANSIENT
    return Failure.PERMANENT


def _sqlite_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)
