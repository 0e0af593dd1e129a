"""Legal's last closed business date moves from the snapshot `clock` to `$clock` (issue 18).

Revision ID: 0004_clock_snapshot
Revises: 0003_handled_inputs

Every service keeps its clock the same way (collections_events.store.clock, decision 0008); legal's
was the one spelled `clock`. The row keeps its version and state ({"last_closed": "YYYY-MM-DD"}).
"""

from alembic import op
from sqlalchemy import MetaData, Table, update

from collections_events.store.clock import CLOCK_STREAM

revision = "0004_clock_snapshot"
down_revision = "0003_handled_inputs"
branch_labels = None
depends_on = None

OLD_STREAM = "clock"


def _rename(old: str, new: str) -> None:
    bind = op.get_bind()
    snapshots = Table("snapshots", MetaData(), autoload_with=bind)
    bind.execute(update(snapshots).where(snapshots.c.stream_id == old).values(stream_id=new))


def upgrade() -> None:
    _rename(OLD_STREAM, CLOCK_STREAM)


def downgrade() -> None:
    _rename(CLOCK_STREAM, OLD_STREAM)
