"""The ledger's tables: only the platform's (its accounts are snapshots and streams in them)."""

from __future__ import annotations

from sqlalchemy import MetaData

from collections_events.store.tables import platform_tables

metadata = MetaData()
TABLES = platform_tables(metadata)
