"""``point-api`` [rehearsal 4]: point the local API at PostgreSQL and restart it."""

from __future__ import annotations

from runbook.errors import runbook_task
from runbook.repoint import REPOINT_FLAGS, repoint_to_postgres


@runbook_task(help=REPOINT_FLAGS)
def point_api(ctx, pg: str | None = None, workers: int | None = None, force: bool = False,
              yes: bool = False, dry_run: bool = False) -> None:
    """[rehearsal 4] Point the local API at PostgreSQL (URL + pool env) and restart it."""
    repoint_to_postgres(ctx, pg, workers, force, yes, dry_run, production=False)
