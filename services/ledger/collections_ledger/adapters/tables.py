"""The ledger's tables: only the shared ones (its accounts are folds over its event streams)."""

from __future__ import annotations

from sqlalchemy import MetaData

from collections_events.store.tables import platform_tables

metadata = MetaData()
TABLES = platform_tables(metadata)
