"""The runbook hands the migration script ``--yes`` (empty target tables that hold rows without
asking) only where the operator already said yes, or where the task made the database."""

from __future__ import annotations

import io

from runbook_support import config_for, runbook_environ

from runbook.cutover import CutoverPlan, cutover_steps
from runbook.shell import Shell


def test_the_cutover_passes_yes_to_the_script_only_with_the_operators_yes(tmp_path):
    sqlite = tmp_path / "live.db"
    sqlite.write_bytes(b"")
    cfg = config_for(runbook_environ(tmp_path, SQLITE_PATH=str(sqlite)))
    for operator_said_yes in (False, True):
        plan = CutoverPlan(cfg=cfg, target="postgresql://app:pw@db.internal/app", local=True,
                           engine=None, monitor_seconds=1.0, message="m", yes=operator_said_yes)
        shown = io.StringIO()
        migrate = dict(cutover_steps(plan))["migrate"]
        migrate(Shell(dry_run=True, assume_yes=True, out=shown))  # the step was confirmed
        (line,) = [text for text in shown.getvalue().splitlines() if "migrate_sqlite" in text]
        assert ("--yes" in line.split()) is operator_said_yes, line
        assert "pw" not in line
