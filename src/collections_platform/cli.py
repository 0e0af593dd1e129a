"""The `collections` command: replay, schemas, audit verify, run (the embedded default)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from collections_events.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="collections", description="The collections platform")
    commands = parser.add_subparsers(dest="command", required=True)

    replay = commands.add_parser("replay", help="run the whole platform over a file of events")
    replay.add_argument("input", type=Path)
    replay.add_argument("--out", type=Path, required=True)
    replay.add_argument("--config", type=Path)
    replay.add_argument("--state", type=Path, help="keep state here across runs")

    schemas = commands.add_parser("schemas", help="export the JSON Schema of every event type")
    schemas.add_argument("--out", type=Path, required=True)

    args = parser.parse_args(argv)
    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "schemas":
            from collections_events.schemas import export_schemas

            written = export_schemas(args.out)
            print(f"wrote {len(written)} schemas to {args.out}")
            return 0
    except ConfigError as exc:
        print(f"collections {args.command}: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


def _replay(args: argparse.Namespace) -> int:
    from collections_platform.replay import ReplayError, replay

    config = load_config(args.config)
    if not args.input.is_file():
        print(f"collections replay: cannot read {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        asyncio.run(replay(args.input, args.out, config, args.state))
    except ReplayError as exc:
        print(f"collections replay: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
