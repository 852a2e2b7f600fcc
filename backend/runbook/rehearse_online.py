"""The rehearsal's online part: the online cutover rehearsed on the rehearsal's own throwaway
data, after the single-window part.

A copy of the rehearsal SQLite file served by an API of its own (real uvicorn); capture-start
and the pre-copy (snapshot load + verify) into a fresh target database while it serves; writes
through that API (a smoke run: bookings, a thread, an upload, their removal); one catch-up
round; more writes; then the online window itself (freeze, last round + sequences + verify,
flip + smoke + uploads, unfreeze), timed freeze to unfreeze; capture-stop. The source file and
the single-window target are never touched.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from foundation.database_urls import redact_url
from foundation.sqlite_files import open_read_only
from foundation.throwaway_postgres import free_port
from runbook import api_process
from runbook.api_env_file import sqlite_env, write_env_file
from runbook.capture_stop import capture_installed, run_capture_stop
from runbook.catch_up import run_rounds
from runbook.config import RunbookConfig
from runbook.cutover_online import OnlineWindow, run_online_window
from runbook.errors import RunbookError
from runbook.precopy import run_precopy
from runbook.report import WindowFigures
from runbook.shell import Shell
from runbook.smoke import smoke_or_fail
from runbook.steps import StepRunner
from sqlite_to_pg.change_apply import RoundResult

STEP_PREFIX = "online: "
MESSAGE = "Rehearsal of the online cutover; writes are paused for a few seconds."


@dataclass
class OnlineRehearsal:
    """What the online part measured: the window, and what ran before it while live."""

    window: OnlineWindow | None = None
    precopy_seconds: float = 0.0
    round_seconds: float = 0.0
    round_detail: str = ""
    skipped: str = ""  # why the online part did not run, when it did not
    before_window: list[str] = field(default_factory=list)


def _round_detail(result: RoundResult) -> str:
    return (f"{result.position_after - result.position_before:,} change(s), "
            f"{result.key_count:,} key(s) ({result.upserted:,} upserted, {result.deleted:,} "
            "deleted), verified")


def copy_sqlite_file(source: Path, destination: Path) -> None:
    """A writable copy of ``source`` (SQLite's backup API, so a file in WAL mode copies whole)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.unlink(missing_ok=True)
    with contextlib.closing(open_read_only(source)) as src, \
            contextlib.closing(sqlite3.connect(destination)) as copy:
        src.backup(copy)


def online_api_config(cfg: RunbookConfig, work: Path, sqlite_path: Path) -> RunbookConfig:
    """The online part's API and files, all in ``work``; never the operator's DEPLOY_CMD."""
    return cfg.with_overrides(
        api_url=f"http://127.0.0.1:{free_port()}", run_dir=work, api_env_file=work / "api.env",
        snapshot_dir=work / "snapshots", sqlite_path=sqlite_path,
    ).model_copy(update={"deploy_cmd": None})


def _start_api_on_sqlite(cfg: RunbookConfig, sqlite_path: Path, upload_dir: Path,
                         cleanup: contextlib.ExitStack) -> str:
    env = {**sqlite_env(sqlite_path), "UPLOAD_DIR": str(upload_dir)}
    write_env_file(cfg.path(cfg.api_env_file), env)
    started = api_process.start_api(cfg, env)
    cleanup.callback(api_process.stop_api, cfg)  # whichever API the pid file names by then
    return f"{cfg.api_workers} workers at {started.base_url} on {sqlite_path.name}"


def rehearse_online(shell: Shell, cfg: RunbookConfig, steps: StepRunner, *, source: Path,
                    new_target: Callable[[], str], upload_dir: Path, check_uploads: bool,
                    work: Path, cleanup: contextlib.ExitStack, done: OnlineRehearsal) -> None:
    """Run the online part, recording its steps (prefixed ``online: ``) in ``steps`` and its
    figures in ``done``; ``RunbookError`` at the first failure, like the other steps."""
    steps = StepRunner(shell, steps.records, prefix=STEP_PREFIX)
    live = work / "live.sqlite"
    api_cfg = online_api_config(cfg, work, live)
    with steps.step("copy the SQLite file") as record:
        copy_sqlite_file(source, live)
        record.detail = f"{live} ({live.stat().st_size / 1e6:.2f} MB)"
    with steps.step("start PostgreSQL database") as record:
        target = new_target()
        record.detail = redact_url(target)
    with steps.step("start API on the SQLite copy") as record:
        record.detail = _start_api_on_sqlite(api_cfg, live, upload_dir, cleanup)
    with steps.step("precopy while the API serves") as record:
        run_precopy(shell, api_cfg, live, target, max_rounds=0)
        record.detail = "schema, capture-start, snapshot loaded and verified"
    done.precopy_seconds = record.seconds
    with steps.step("writes through the API") as record:
        record.detail = f"{len(smoke_or_fail(shell, api_cfg))} smoke checks on SQLite"
    with steps.step("catch-up round") as record:
        rounds: list[RoundResult] = []
        run_rounds(shell, live, target, rounds=1, results=rounds)
        record.detail = "; ".join(_round_detail(result) for result in rounds)
    done.round_seconds = record.seconds
    done.round_detail = record.detail
    with steps.step("writes through the API") as record:
        record.detail = f"{len(smoke_or_fail(shell, api_cfg))} smoke checks on SQLite"
    done.window = run_online_window(shell, api_cfg, live, target, message=MESSAGE, steps=steps,
                                    check_uploads=check_uploads)
    with steps.step("capture-stop") as record:
        run_capture_stop(shell, live, target)
        if capture_installed(live):
            raise RunbookError(f"capture-stop left capture objects in {live}")
        record.detail = "triggers, change log and online state removed"
    done.before_window = [f"precopy (capture-start, snapshot load + verify) while the API "
                          f"served: {done.precopy_seconds:.2f} s",
                          f"a catch-up round: {done.round_seconds:.2f} s ({done.round_detail})"]


def online_figures(done: OnlineRehearsal) -> WindowFigures:
    """The online path's window as measured (freeze → unfreeze), or why it was not."""
    window = done.window
    if window is None:
        why = done.skipped or "the rehearsal stopped before the online window"
        return WindowFigures(path="online", seconds=None, measured=f"not rehearsed: {why}")
    return WindowFigures(
        path="online", seconds=round(window.seconds, 2), measured="timed, freeze to unfreeze",
        contains=[line.removeprefix(STEP_PREFIX) for line in window.contents()],
        notes=[f"moved under the freeze: {window.keys_applied:,} key(s) changed since the last "
               f"round; {window.touched_checked:,} key(s) touched since the snapshot checked "
               "row by row; does not grow with the file's size",
               *(f"before the window, {line}" for line in done.before_window)],
        parts={part.name.removeprefix(STEP_PREFIX): part.seconds for part in window.parts},
        counts={"keys_applied": window.keys_applied, "touched_checked": window.touched_checked,
                "sequences_reset": window.sequences_reset})
