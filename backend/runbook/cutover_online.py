"""``cutover --online``: the window after a pre-copy — seconds, whatever the file's size.

Check the pre-copy, freeze (which waits out every worker's flag cache and a write in flight),
apply the last round, reset the sequences and verify, all in one transaction
(``sqlite_to_pg.online.window``); flip, unfreeze. After the window: the read-only snapshot for
rollback (the file no longer changes once the API runs on PostgreSQL), capture-stop, monitor.
If the verification fails, nothing of the last round is kept, the API stays on SQLite and is
unfrozen, the capture is removed and the error says what differed.
"""

from __future__ import annotations

import time
from pathlib import Path

from runbook.api_env_file import postgres_env
from runbook.capture_stop import run_capture_stop
from runbook.config import RunbookConfig
from runbook.errors import RunbookError
from runbook.freeze import set_freeze
from runbook.monitor import run_monitor
from runbook.online_target import online_session, operator_errors
from runbook.repoint import repoint_api
from runbook.shell import Shell
from runbook.smoke import smoke_or_fail
from runbook.snapshot import back_up_sqlite_file
from runbook.steps import StepRunner
from runbook.verify_uploads import verify_uploads_or_fail
from sqlite_to_pg.online import lag, window


def _abort(shell: Shell, cfg: RunbookConfig, sqlite_path: Path, target: str,
           problems: list[str]) -> RunbookError:
    shell.say("the window's last round or verification FAILED; nothing of it was kept:")
    for problem in problems:
        shell.say(f"  {problem}")
    set_freeze(shell, cfg, False, None)
    run_capture_stop(shell, sqlite_path, target)
    return RunbookError("online cutover aborted in the window: " + "; ".join(problems)[:2000]
                        + ". The API stays on SQLite and is unfrozen, the capture is removed; "
                        "find the cause, then start over (capture-start, precopy)")


def run_online_cutover(shell: Shell, cfg: RunbookConfig, sqlite_path: Path, target: str, *,
                       message: str, monitor_seconds: float) -> float | None:
    """The online window and what follows it; returns the window's seconds (freeze → unfreeze)."""
    steps = StepRunner(shell)
    with steps.step("check the pre-copy") as record, online_session(sqlite_path, target) as s:
        behind = lag(s, sqlite_path)
        record.detail = behind.describe()
    shell.require_confirmation("freeze writes and run the online window?")
    if shell.dry_run:
        shell.say("[dry-run] would freeze, apply the last round, reset sequences, verify, flip, "
                  "unfreeze, snapshot, capture-stop and monitor")
        return None
    started = time.monotonic()
    with steps.step("freeze writes"):
        set_freeze(shell, cfg, True, message)
    try:
        with steps.step("last round, sequences, verify") as record, \
                online_session(sqlite_path, target) as session, operator_errors():
            result = window(session, sqlite_path)
            record.detail = (f"{result.round.key_count:,} key(s) applied, "
                             f"{result.touched_checked:,} touched key(s) checked, "
                             f"{result.sequences_reset} sequence(s)")
    except Exception as exc:  # noqa: BLE001 - any failure here ends the window the same way
        raise _abort(shell, cfg, sqlite_path, target, [f"{type(exc).__name__}: {exc}"]) from None
    if not result.ok:
        raise _abort(shell, cfg, sqlite_path, target, result.round.problems + result.problems)
    with steps.step("flip env and deploy"):
        repoint_api(shell, cfg, postgres_env(target, cfg), workers=cfg.api_workers,
                    production=True)
        smoke_or_fail(shell, cfg)
        verify_uploads_or_fail(shell, cfg)  # rows moved, files did not: are they there?
    with steps.step("unfreeze"):
        set_freeze(shell, cfg, False, None)
    seconds = time.monotonic() - started
    shell.say(f"window: {seconds:.1f} s from freeze to unfreeze")
    with steps.step("snapshot the SQLite file (for rollback)"):
        taken = back_up_sqlite_file(sqlite_path, cfg.path(cfg.snapshot_dir))
        shell.say(f"snapshot {taken.path} sha256 {taken.sha256}")
    with steps.step("capture-stop"):
        run_capture_stop(shell, sqlite_path, target)
    with steps.step("monitor"):
        run_monitor(shell, cfg, monitor_seconds, 2.0)
    return seconds
