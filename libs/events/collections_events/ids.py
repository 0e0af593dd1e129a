"""Deterministic ids (contract.md: ids are functions of the input, e.g. UUIDv5 of cause and purpose)."""

from __future__ import annotations

import uuid

PLATFORM_NAMESPACE = uuid.UUID("6f1c3e2a-8d4b-5c7e-9a10-2b3c4d5e6f70")
"""The UUIDv5 namespace of every id the platform makes. Never change it: replays would differ."""


def derive_id(cause_id: str, purpose: str) -> str:
    """UUIDv5 of `cause_id` and `purpose`: the same cause and purpose always give the same id."""
    return str(uuid.uuid5(PLATFORM_NAMESPACE, f"{cause_id}\x1f{purpose}"))
