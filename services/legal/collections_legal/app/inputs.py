"""Legal's log of what it handled (`handled_inputs`, store/handled_inputs.py): the events a referral
explanation is recomputed from (app/referral_explain.py)."""

from __future__ import annotations

from collections_events.store.handled_inputs import HandledInputs
from collections_legal.app.tables import TABLES

HANDLED = HandledInputs(TABLES["handled_inputs"])
