"""``cutover --online``: the window after a pre-copy — seconds, whatever the file's size.

Check the pre-copy, freeze (which waits out every worker's flag cache and a write in flight),
apply the last round, reset the sequences and verify, all in one transaction
(``sqlite_to_pg.online.window``); flip, unfreeze. After the window: the read-only snapshot for
rollback (the file no longer changes once the API runs on PostgreSQL), capture-stop, monitor.
If the verification fails, nothing of the last round is kept, the API stays on SQLite and is
unfrozen, the capture is removed and the error says what differed. If the flip (or the unfreeze
after it) fails, the error says how to undo it: once the env file names PostgreSQL, the
snapshot is taken then and ``invoke rollback`` (which also runs capture-stop) is the way back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from runbook.api_env_file import current_database_url, postgres_env
from runbook.capture_stop import run_capture_stop
from runbook.config import RunbookConfig
from runbook.errors import RunbookError
from runbook.freeze import set_freeze
from runbook.monitor import run_monitor
from runbook.online_target import online_session, operator_errors
from runbook.repoint import repoint_api
from runbook.report import StepRecord
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


@dataclass
class OnlineWindow:
    """What one online window did: freeze to unfreeze, and each part of it."""

    seconds: float = 0.0
    keys_applied: int = 0
    touched_checked: int = 0
    sequences_reset: int = 0
    parts: list[StepRecord] = field(default_factory=list)

    def contents(self) -> list[str]:
        """Each part of the window with its seconds and what it did, one line each."""
        return [f"{part.name}: {part.seconds:.2f} s" + (f" ({part.detail})" if part.detail
                                                         else "") for part in self.parts]


def _stopped_after_the_round(cfg: RunbookConfig, sqlite_path: Path,
                             exc: Exception) -> RunbookError:
    """The flip or the unfreeze failed (the target holds every row): how to undo it. Once the
    env file names PostgreSQL, the snapshot ``rollback`` compares with is taken now (the file
    is frozen), so that ``invoke rollback`` can run; it also removes the capture."""
    if current_database_url(cfg).startswith("sqlite"):
        undo = ("the API still runs on SQLite, frozen: `invoke unfreeze --yes`, then "
                "`invoke capture-stop --yes` (or fix the cause and rerun `invoke cutover "
                "--online`)")
    else:
        try:
            taken = back_up_sqlite_file(sqlite_path, cfg.path(cfg.snapshot_dir))
            snapshot = f" --snapshot {taken.path}"
        except Exception as failed:  # noqa: BLE001 - say it, the undo stays the same
            snapshot = f"  (no snapshot could be taken: {type(failed).__name__}: {failed})"
        undo = (f"the API's env file names PostgreSQL: `invoke rollback --yes{snapshot}` "
                "(it points the API back at SQLite, unfreezes and removes the capture)")
    cause = str(exc) if isinstance(exc, RunbookError) else f"{type(exc).__name__}: {exc}"
    return RunbookError(f"online cutover stopped after the window's last round: {cause}\n"
                        f"To undo: {undo}")


def run_online_window(shell: Shell, cfg: RunbookConfig, sqlite_path: Path, target: str, *,
                      message: str, steps: StepRunner, check_uploads: bool = True
                      ) -> OnlineWindow:
    """Freeze, last round + sequences + verify, flip (+ smoke, uploads unless not
    ``check_uploads``), unfreeze; the window's seconds and parts. A failure in the last round
    or the verification aborts (see ``_abort``)."""
    done = OnlineWindow()
    first = len(steps.records)
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
    done.keys_applied, done.touched_checked = result.round.key_count, result.touched_checked
    done.sequences_reset = result.sequences_reset
    try:
        with steps.step("flip env and deploy") as record:
            repoint_api(shell, cfg, postgres_env(target, cfg), workers=cfg.api_workers,
                        production=True)
            checks = smoke_or_fail(shell, cfg)
            # rows moved, files did not: are they there?
            files = verify_uploads_or_fail(shell, cfg) if check_uploads else 0
            record.detail = (f"API restarted on PostgreSQL, {len(checks)} smoke checks, "
                             + (f"{files} upload(s) checked" if check_uploads
                                else "uploads not checked"))
        with steps.step("unfreeze"):
            set_freeze(shell, cfg, False, None)
    except Exception as exc:  # noqa: BLE001 - after the round, every failure is undone alike
        raise _stopped_after_the_round(cfg, sqlite_path, exc) from None
    done.seconds = time.monotonic() - started
    done.parts = steps.records[first:]
    shell.say(f"window: {done.seconds:.1f} s from freeze to unfreeze")
    return done


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
    done = run_online_window(shell, cfg, sqlite_path, target, message=message, steps=steps)
    with steps.step("snapshot the SQLite file (for rollback)"):
        taken = back_up_sqlite_file(sqlite_path, cfg.path(cfg.snapshot_dir))
        shell.say(f"snapshot {taken.path} sha256 {taken.sha256}")
    with steps.step("capture-stop"):
        run_capture_stop(shell, sqlite_path, target)
    with steps.step("monitor"):
        run_monitor(shell, cfg, monitor_seconds, 2.0)
    return done.seconds
