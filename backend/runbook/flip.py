"""``flip`` [cutover 5]: the API's env names PostgreSQL; deploy (DEPLOY_CMD) or restart it."""

from __future__ import annotations

from runbook.errors import runbook_task
from runbook.repoint import REPOINT_FLAGS, repoint_to_postgres


@runbook_task(help=REPOINT_FLAGS)
def flip(ctx, pg: str | None = None, workers: int | None = None, force: bool = False,
         yes: bool = False, dry_run: bool = False) -> None:
    """[cutover 5] Flip the API's env to PostgreSQL and deploy (DEPLOY_CMD, else local restart)."""
    repoint_to_postgres(ctx, pg, workers, force, yes, dry_run, production=True)
