"""Outreach's log of what it handled (`handled_inputs`, store/handled_inputs.py): the events an
explanation is recomputed from (app/explain.py)."""

from __future__ import annotations

from collections_events.store.clock import CLOCK_STREAM
from collections_events.store.handled_inputs import HandledInputs
from collections_outreach.app.tables import INPUTS

CLOCK = CLOCK_STREAM
HANDLED = HandledInputs(INPUTS)
log_input = HANDLED.log
"""Keep an event handled for an account (or `CLOCK` for a close), in handling order."""
read_inputs = HANDLED.read
"""(owner, topic, structured JSON) of the account's handled events and every close, in order."""
