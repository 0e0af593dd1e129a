"""schemathesis over every API operation of the four services (issue 15, Fuzzing): 0 server errors.

The services run on the embedded SQLite state of a short replayed portfolio (so known accounts, and
cases where legal opened some, exist), each app served by uvicorn on a free port. For every operation
of each OpenAPI document schemathesis draws positive and negative requests (COLLECTIONS_FUZZ_API
examples per operation and mode; CI 3, `make fuzz` 30); half of the requests with an account or
case in the path name a known one. No response may be a 5xx. Prints the counts.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from collections_events.config import PlatformConfig
from collections_events.testing import import_file, served
from collections_platform.embedded import build_embedded, close_embedded
from collections_platform.simulation.portfolio import PortfolioSettings, generate_events

campaign = import_file(Path(__file__).parent / "campaign.py", "fuzz_campaign")
CLI = [sys.executable, "-m", "collections_platform.cli"]


def _fuzz_operations(name: str, url: str, known: dict[str, list[str]], examples: int) -> tuple[Counter[int], list[str]]:
    """Every operation of the app at `url`, positive and negative; (status counts, 5xx descriptions)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_one(operation, mode, name, url, known, examples, statuses, errors)
            except Unsatisfiable:  # no invalid request exists (an operation with no parameter or body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses, errors


def _fuzz_one(
    operation: Any,
    mode: GenerationMode,
    name: str,
    url: str,
    known: dict[str, list[str]],
    examples: int,
    statuses: Counter[int],
    errors: list[str],
) -> None:
    names = [p.name for p in operation.path_parameters]

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.randoms(use_true_random=False))
    def run(case: Any, pick: Any) -> None:
        for param in names:
            if known.get(param) and pick.random() < 0.5 and case.path_parameters is not None:
                case.path_parameters[param] = pick.choice(known[param])
        response = case.call(base_url=url, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            errors.append(
                f"{name} {case.method} {case.formatted_path} ({mode.value}) -> {response.status_code}: "
                f"{response.text[:300]}\n  {case.as_curl_command()}"
            )

    run()


async def test_schemathesis_finds_no_server_error_in_any_operation_of_the_four_apis(tmp_path: Path) -> None:
    started = time.monotonic()
    events = list(generate_events(PortfolioSettings(seed=3, accounts=25, days=70)))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    state = tmp_path / "state"
    done = await asyncio.to_thread(
        subprocess.run,
        [*CLI, "replay", str(source), "--out", str(tmp_path / "out.jsonl"), "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"\n  portfolio replayed in {time.monotonic() - started:.1f} s")
    known: dict[str, list[str]] = {
        "account_id": sorted({e["data"]["account_id"] for e in events if e["type"] == "account.opened"})[:10]
    }
    examples = campaign.size("COLLECTIONS_FUZZ_API", 3)
    platform = build_embedded(state, PlatformConfig(), lambda envelope: None)
    await platform.start()
    totals: Counter[int] = Counter()
    errors: list[str] = []
    operations = 0
    try:
        for runtime in platform.runtimes:
            if runtime.spec.create_api is None:
                continue
            async with served(runtime.spec.create_api(runtime)) as url:
                async with httpx.AsyncClient() as client:
                    if runtime.name == "legal":
                        cases = (await client.get(f"{url}/cases")).json()
                        if isinstance(cases, list):
                            known["case_id"] = [c["case_id"] for c in cases if "case_id" in c][:10]
                    paths = (await client.get(f"{url}/openapi.json")).json()["paths"]
                    operations += sum(len(methods) for methods in paths.values())
                begun = time.monotonic()
                statuses, found = await asyncio.to_thread(_fuzz_operations, runtime.name, url, known, examples)
                print(f"  {runtime.name}: {sum(statuses.values())} requests in {time.monotonic() - begun:.1f} s")
                totals.update(statuses)
                errors.extend(found)
    finally:
        await close_embedded(platform)
    print(
        f"\nfuzz apis: {operations} operations of {len(platform.runtimes)} services, "
        f"{sum(totals.values()):,} requests, "
        f"{sum(n for s, n in totals.items() if s >= 500)} server errors, statuses {dict(sorted(totals.items()))}, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert not errors, "\n".join(errors[:15])
