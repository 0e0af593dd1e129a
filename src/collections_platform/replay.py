"""`collections replay INPUT --out OUTPUT [--config FILE] [--state DIR]` (contract.md, Replay).

Runs all four services in one process on the embedded default, feeds the input in file order and,
after each event, lets every service run until nothing is left; OUTPUT gets every event the
platform published, in order, one structured-mode event per line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import yaml

from collections_events.config import PlatformConfig
from collections_events.envelope import Envelope
from collections_events.registry import EVENT_TYPES, TOPIC_OWNERS
from collections_events.runtime.rejection import rejection_envelope
from collections_events.store.uow import encode_envelope
from collections_events.transport.embedded import EmbeddedPlatform
from collections_events.validation import Event, Rejection, read_json
from collections_platform.embedded import build_embedded, close_embedded

UTF8_BOM = b"\xef\xbb\xbf"
LINES_READ_FILE = "replay-lines-read"
"""In a --state directory: how many input lines earlier replays into it have read (decimal text)."""


class ReplayError(Exception):
    """The replay could not run at all (the message is the one-line reason)."""


@dataclass
class ReplayFigures:
    """What a replay read and published: input lines (blank ones included), valid inbound events
    among them, lines rejected unread, events published (rejections included)."""

    lines: int = 0
    events_in: int = 0
    rejected: int = 0
    published: int = 0


async def replay(
    input_path: Path,
    output_path: Path,
    config: PlatformConfig,
    state_dir: Path | None,
    figures: ReplayFigures | None = None,
) -> int:
    """Replay `input_path` into `output_path`; returns how many events were published.

    `figures`, when given, is filled in as the replay goes. Raises ReplayError when the input cannot
    be read or the output cannot be written.
    """
    figures = figures if figures is not None else ReplayFigures()
    _refuse_overwriting_input(input_path, output_path)
    try:
        source = input_path.open("rb")
    except OSError as exc:
        raise ReplayError(f"cannot read {input_path}: {exc.strerror}") from None
    try:
        out = output_path.open("w", encoding="utf-8")
    except OSError as exc:
        source.close()
        raise ReplayError(f"cannot write {output_path}: {exc.strerror}") from None
    with source, out:
        if state_dir is not None:
            with _exclusive(state_dir):
                _record_config(state_dir, config)
                return await _run(source, out, config, state_dir, figures, durable=True)
        # Fresh state in a directory deleted at the end: no reason to wait for the disk.
        with tempfile.TemporaryDirectory(prefix="collections-replay-") as tmp:
            return await _run(source, out, config, Path(tmp), figures, durable=False)


async def _run(
    source: BinaryIO, out: TextIO, config: PlatformConfig, state_dir: Path, figures: ReplayFigures, *, durable: bool
) -> int:
    def write(envelope: Envelope) -> None:
        write_structured(encode_envelope(envelope))

    def write_structured(structured: str) -> None:
        out.write(structured + "\n")
        figures.published += 1

    platform = build_embedded(state_dir, config, _ignore, durable=durable, on_structured=write_structured)
    # An unreadable line has no event id, so its rejection's id derives from its position in all
    # the input this state has read: a second file continuing the first never repeats an id, and
    # two halves give the ids the whole file gives (the `line` field stays the line in its file).
    earlier = _lines_read(state_dir)
    number = 0
    try:
        await platform.start()
        async with contextlib.AsyncExitStack() as held:
            for runtime in platform.runtimes:
                await held.enter_async_context(runtime.hold())
            number = await _feed_lines(source, platform, write, earlier, figures)
            await platform.drain()  # nothing is left (each line was drained); the hold ends empty
    finally:
        await close_embedded(platform)
        _record_lines_read(state_dir, earlier + number)
    return figures.published


async def _feed_lines(
    source: BinaryIO,
    platform: EmbeddedPlatform,
    write: Callable[[Envelope], None],
    earlier: int,
    figures: ReplayFigures,
) -> int:
    """Feed every line of `source` in order, draining the platform after each; returns the lines read."""
    number = 0
    # Lines are read as bytes so that a line that is not UTF-8 is one rejection, not the end of
    # the run; a UTF-8 byte order mark at the start of the file is not part of the first event.
    for number, line in enumerate(source, start=1):
        figures.lines = number
        if number == 1:
            line = line.removeprefix(UTF8_BOM)
        if not line.strip():
            continue
        # The size limit is the event's: the line's terminator is not part of it.
        parsed = _read_line(line.removesuffix(b"\n").removesuffix(b"\r"))
        if isinstance(parsed, Event):
            figures.events_in += 1
            platform.feed(EVENT_TYPES[parsed.type].topic, parsed, number)
            await platform.drain()
            continue
        figures.rejected += 1
        entry = EVENT_TYPES.get(parsed.type or "")
        owner = TOPIC_OWNERS.get(entry.topic) if entry else None
        write(
            rejection_envelope(
                parsed,
                source=f"collections/{owner or 'ingest'}",
                position=f"replay:line:{earlier + number}",
                line=number,
            )
        )
    return number


@contextlib.contextmanager
def _exclusive(state_dir: Path) -> Iterator[None]:
    """Hold `state_dir` for this replay alone: a second one at the same time would find its
    databases locked mid-run (a traceback, and a wrong line count left behind)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".replay.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReplayError(f"--state {state_dir} is in use by another replay; wait for it to finish") from None
        yield


def _refuse_overwriting_input(input_path: Path, output_path: Path) -> None:
    if output_path.exists() and input_path.exists() and os.path.samefile(input_path, output_path):
        raise ReplayError(f"--out {output_path} is the input file: replay would overwrite what it reads")


def _record_config(state_dir: Path, config: PlatformConfig) -> None:
    """Keep the configuration in the state, as `collections run` does: `collections explain --state
    DIR` then explains with the arms the replay used."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")


def _ignore(_envelope: Envelope) -> None:
    """What replay does with a published envelope: nothing (it writes the JSON, on_structured)."""


def _lines_read(state_dir: Path) -> int:
    try:
        return int((state_dir / LINES_READ_FILE).read_text(encoding="ascii").strip() or 0)
    except FileNotFoundError:
        return 0
    except ValueError:
        raise ReplayError(
            f"{state_dir / LINES_READ_FILE} is not a line count; was the state directory edited?"
        ) from None


def _record_lines_read(state_dir: Path, total: int) -> None:
    part = state_dir / f"{LINES_READ_FILE}.part"
    part.write_text(f"{total}\n", encoding="ascii")
    part.replace(state_dir / LINES_READ_FILE)


def _read_line(line: bytes) -> Event | Rejection:
    """One input line as an inbound event, or the reason it is refused (never raises)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(reason=f"unreadable: the line is not UTF-8 text ({exc.reason} at byte {exc.start})")
    return read_json(text, inbound_only=True)


def replay_summary(figures: ReplayFigures, seconds: float) -> str:
    """The line `collections replay` prints on stderr at the end: counts, inbound events per second
    of wall time, and the process's peak resident memory (issue 14)."""
    rate = figures.events_in / seconds if seconds > 0 else 0.0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return (
        f"collections replay: {figures.lines:,} lines, {figures.events_in:,} events in, "
        f"{figures.rejected:,} lines refused, {figures.published:,} published in {seconds:.1f} s "
        f"({rate:,.0f} inbound events/s), peak memory {peak_mb:,.0f} MB"
    )
