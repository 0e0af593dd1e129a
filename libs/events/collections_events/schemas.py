"""JSON Schema export of every event type (issue 2): one file per type, `<type>.schema.json`.

The exported files are committed under libs/events/schemas/; a test fails when they drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema: the envelope and the `data` of every type."""
    docs: dict[str, dict[str, Any]] = {"envelope.schema.json": Envelope.model_json_schema()}
    for name, entry in EVENT_TYPES.items():
        schema = entry.model.model_json_schema(mode="serialization" if not entry.inbound else "validation")
        schema["title"] = name
        schema["description"] = (schema.get("description") or "").strip()
        schema["x-topic"] = entry.topic
        schema["x-direction"] = "inbound" if entry.inbound else "outbound"
        docs[f"{name}.schema.json"] = schema
    return docs


def render(schema: dict[str, Any]) -> str:
    """The exact text written for `schema` (stable, so drift is a text difference)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, schema in schema_documents().items():
        path = out_dir / file_name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
