"""The `collections` command: replay, schemas, audit verify, run (the embedded default), publish, channels."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeAlias

from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from collections_events.config import ConfigError, PlatformConfig, load_config

DEFAULT_STATE = Path(".state/run")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _iso_date(text: str) -> date | None:
    """`text` as a date written YYYY-MM-DD, or None."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (2 for bad arguments or a bad configuration)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"collections {args.command}: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The `collections` command line: one subcommand per entry of COMMANDS."""
    parser = argparse.ArgumentParser(prog="collections", description="The collections platform")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_replay_and_schemas(commands)
    _add_run(commands)
    _add_publish_and_channels(commands)
    _add_audit_and_explain(commands)
    _add_whatif(commands)
    return parser


Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_replay_and_schemas(commands: Subcommands) -> None:
    replay = commands.add_parser("replay", help="run the whole platform over a file of events")
    replay.add_argument("input", type=Path)
    replay.add_argument("--out", type=Path, required=True)
    replay.add_argument("--config", type=Path)
    replay.add_argument("--state", type=Path, help="keep state here across runs")

    schemas = commands.add_parser("schemas", help="export the JSON Schema of every event type")
    schemas.add_argument("--out", type=Path, required=True)


def _add_run(commands: Subcommands) -> None:
    run = commands.add_parser("run", help="simulate a portfolio on the embedded platform, then serve the APIs")
    run.add_argument("--accounts", type=_positive, default=2000, help="accounts in the book (default 2000)")
    run.add_argument("--days", type=_positive, default=180, help="business days to simulate (default 180)")
    run.add_argument("--seed", type=int, default=7, help="the simulation's seed (default 7)")
    run.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 5), help="first business date")
    run.add_argument("--config", type=Path)
    run.add_argument("--state", type=Path, default=DEFAULT_STATE, help=f"state directory (default {DEFAULT_STATE})")
    run.add_argument("--no-serve", action="store_true", help="exit after the summary")
    run.add_argument("--json", type=Path, help="also write the summary figures to this file")


def _add_publish_and_channels(commands: Subcommands) -> None:
    publish = commands.add_parser("publish", help="publish a file of events to a running platform's Kafka")
    publish.add_argument("input", type=Path)
    publish.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    publish.add_argument("--config", type=Path, help="the platform's config (for topic names)")
    publish.add_argument(
        "--settle",
        metavar="POSTGRES_URL",
        help="after each event, wait until every service has caught up and emptied its outbox (the "
        "services' databases are collections_<service> on this server, as `make up` makes them): the "
        "distributed platform then decides exactly what `collections replay` decides",
    )

    publish.add_argument(
        "--settle-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="with --settle: give up (exit 2, naming the consumer group behind) when one event has not "
        "settled after this long (default 120)",
    )

    channels = commands.add_parser("channels", help="run the channel simulator against a running platform")
    channels.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    channels.add_argument("--config", type=Path, help="the platform's config (for topic names)")
    channels.add_argument("--seed", type=int, default=7)


def _add_audit_and_explain(commands: Subcommands) -> None:
    audit = commands.add_parser("audit", help="the contact audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="verify one account's hash-chained contact trail")
    verify.add_argument("account")
    where = verify.add_mutually_exclusive_group()
    where.add_argument("--state", type=Path, help=f"embedded state directory (default {DEFAULT_STATE})")
    where.add_argument("--database-url", help="outreach's database URL (production)")

    explain = commands.add_parser("explain", help="why outreach decided what it did for an account at a date")
    explain.add_argument("account")
    explain.add_argument("--as-of", required=True, help="the business date, YYYY-MM-DD")
    explain.add_argument("--config", type=Path, help="the run's config (the arms and strategies)")
    explain_where = explain.add_mutually_exclusive_group()
    explain_where.add_argument("--state", type=Path, help=f"embedded state directory (default {DEFAULT_STATE})")
    explain_where.add_argument("--database-url", help="outreach's database URL (production)")


def _add_whatif(commands: Subcommands) -> None:
    whatif = commands.add_parser("whatif", help="replay one input under several configs and compare them")
    whatif.add_argument("input", type=Path)
    whatif.add_argument("--config", type=Path, action="append", required=True, help="give it twice or more")
    whatif.add_argument("--out", type=Path, help="write whatif.json and whatif.html here")


def _schemas(args: argparse.Namespace) -> int:
    from collections_events.schemas import export_schemas

    if args.out.exists() and not args.out.is_dir():
        print(f"collections schemas: --out {args.out} is a file, not a folder", file=sys.stderr)
        return 2
    written = export_schemas(args.out)
    print(f"wrote {len(written)} schemas to {args.out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from collections_platform.run_command import run_command

    return run_command(args)


def _whatif(args: argparse.Namespace) -> int:
    from collections_platform.whatif.command import whatif_command

    return whatif_command(args.input, args.config, args.out)


def _explain(args: argparse.Namespace) -> int:
    from collections_platform.explain import explain_command

    as_of = _iso_date(args.as_of)
    if as_of is None:
        print(f"collections explain: --as-of {args.as_of!r} is not a date written YYYY-MM-DD", file=sys.stderr)
        return 2
    state_dir = args.state or DEFAULT_STATE
    config_path = args.config
    if config_path is None and args.database_url is None and (state_dir / "config.yaml").is_file():
        # The run recorded its config: without it every account would be explained as champion.
        config_path = state_dir / "config.yaml"
    config = load_config(config_path)
    return explain_command(args.account, as_of, state_dir, args.database_url, config)


def _audit(args: argparse.Namespace) -> int:
    from collections_platform.audit import verify_command

    return verify_command(args.account, args.state or DEFAULT_STATE, args.database_url)


def _replay(args: argparse.Namespace) -> int:
    from collections_events.telemetry import setup_logging
    from collections_platform.replay import ReplayError, ReplayFigures, replay, replay_summary

    config = load_config(args.config)
    if not args.input.is_file():
        what = "a folder, not a file" if args.input.is_dir() else "no such file"
        print(f"collections replay: cannot read {args.input}: {what}", file=sys.stderr)
        return 2
    if args.state is not None and args.state.exists() and not args.state.is_dir():
        print(f"collections replay: --state {args.state} is a file, not a folder", file=sys.stderr)
        return 2
    # Logs go to stderr (stdout stays clean), and only warnings: a replay prints its output to --out.
    setup_logging("WARNING")
    figures = ReplayFigures()
    started = time.perf_counter()
    try:
        asyncio.run(replay(args.input, args.out, config, args.state, figures))
    except ReplayError as exc:
        print(f"collections replay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, an --out or --state the OS refuses, mid-run or at start
        where = f": {exc.filename}" if exc.filename else ""
        print(f"collections replay: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # a --state directory holding a file that is not a usable database
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"collections replay: the state in {args.state} cannot be used: {reason}", file=sys.stderr)
        return 1
    print(replay_summary(figures, time.perf_counter() - started), file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace) -> int:

    config = load_config(args.config)
    if not args.input.is_file():
        print(f"collections publish: cannot read {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(_publish_settled(args.bootstrap, args.input, config, args.settle, args.settle_timeout))
    except (OSError, KafkaError, SQLAlchemyError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"collections publish: {reason}", file=sys.stderr)
        return 2
    print(f"published {count} events to {args.bootstrap}")
    return 0


async def _publish_settled(
    bootstrap: str, path: Path, config: PlatformConfig, settle_pg: str | None, settle_timeout: float = 120.0
) -> int:
    from collections_platform.distributed import Settler, publish_file
    from collections_platform.services import available_specs

    if settle_pg is None:
        return await publish_file(bootstrap, path, config)
    specs = available_specs()
    base = settle_pg.rstrip("/")
    urls = {spec.name: f"{base}/collections_{spec.name}" for spec in specs}
    async with Settler(bootstrap, config, specs, urls) as settler:

        def progress(waited: float, behind: str) -> None:
            print(
                f"collections publish: waiting {waited:.0f}s of {settle_timeout:g}s to settle: {behind}",
                file=sys.stderr,
            )

        async def wait(_line: object) -> None:
            await settler.wait(settle_timeout, progress=progress)

        return await publish_file(bootstrap, path, config, wait=wait)


def _channels(args: argparse.Namespace) -> int:
    import signal

    from collections_events.telemetry import setup_logging
    from collections_platform.kafka_channels import run_channel_simulator

    config = load_config(args.config)
    setup_logging()

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_channel_simulator(args.bootstrap, config, args.seed, stop)

    asyncio.run(serve())
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "replay": _replay,
    "schemas": _schemas,
    "run": _run,
    "publish": _publish,
    "channels": _channels,
    "whatif": _whatif,
    "explain": _explain,
    "audit": _audit,
}
"""Each subcommand's handler: the parsed arguments in, the exit status out."""

if __name__ == "__main__":
    sys.exit(main())
