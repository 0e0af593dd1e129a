"""When a strategy step fires in a delinquency episode (behaviour.md, Outreach; docs/decisions/0001).

A step fires at the first close of the episode on which `from_dpd <= dpd` (and `dpd <= to_dpd` when
given); with `every_days` it fires again at a close D with D - last firing >= `every_days` while
that holds; without `every_days` it fires once per episode. A suppressed firing counts as a firing
("a suppressed step is not made up later"). dpd and dates are business dates / days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from collections_events.config import Step


def in_range(step: Step, dpd: int) -> bool:
    """Whether `dpd` lies in the step's `from_dpd`..`to_dpd` (to_dpd open when not given)."""
    return step.from_dpd <= dpd and (step.to_dpd is None or dpd <= step.to_dpd)


def fires(step: Step, dpd: int, as_of: date, last_fired: date | None) -> bool:
    """Whether `step` fires at the close of `as_of` with `dpd`, given its last firing this episode."""
    if not in_range(step, dpd):
        return False
    if last_fired is None:
        return True
    if step.every_days is None:
        return False
    every: int = step.every_days
    return (as_of - last_fired).days >= every


def firing_steps(strategy: Sequence[Step], dpd: int, as_of: date, fired: dict[str, date]) -> list[Step]:
    """The steps that fire at the close of `as_of`, in strategy order."""
    return [s for s in strategy if fires(s, dpd, as_of, fired.get(s.id))]


def next_step(
    strategy: Sequence[Step],
    delinquent_since: date,
    after: date,
    fired: dict[str, date],
    horizon_days: int = 400,
) -> tuple[Step, date] | None:
    """The first step that would fire at a close after `after` (if nothing changes), and that close.

    Looks at most `horizon_days` closes ahead; None when no step would fire in that time.
    """
    for offset in range(1, horizon_days + 1):
        day = after + timedelta(days=offset)
        due = firing_steps(strategy, (day - delinquent_since).days, day, fired)
        if due:
            return due[0], day
    return None
