"""The online cutover's steps as library calls: start capture, pre-copy, catch up, the window's
last round and verification, stop capture. The runbook tasks are thin layers over these.

The pre-copy is the single-window migration itself (``sqlite_to_pg.cli``, copy engine) run on a
consistent snapshot of the live file, taken with SQLite's online backup API: the snapshot holds
the change log as of that instant, so its highest ``seq`` is the position the load stands for.
The capture objects are dropped from the snapshot copy before it is loaded. The state is written
after the load commits; a run killed in between finds no loaded state and starts over (the
load itself is one transaction).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from foundation.database_urls import libpq_url
from sqlite_to_pg import cli
from sqlite_to_pg.catalog import (
    Plan,
    build_plan,
    current_schema,
    read_source_tables,
    read_target_tables,
)
from sqlite_to_pg.change_apply import (
    RoundResult,
    apply_round,
    differences,
    read_source_rows,
    rows_behind,
    stage,
    target_rows,
)
from sqlite_to_pg.change_capture import (
    PREFIX,
    CapturedTable,
    CaptureRefused,
    captured_tables,
    change_log_position,
    connect_live,
    install_capture,
    remove_capture,
    schema_fingerprint,
)
from sqlite_to_pg.online_state import (
    PHASE_CAPTURING,
    PHASE_LOADED,
    OnlineState,
    TableSums,
    create_state,
    drop_state,
    read_state,
    record_load,
    target_fingerprint,
    touched_keys,
)
from sqlite_to_pg.sequences import reset_sequences, sequence_states
from sqlite_to_pg.values import register_functions


class OnlineFailed(RuntimeError):
    """An online step could not complete; the message says what to do."""


@dataclass
class Session:
    """Open connections to both sides, the plan and the captured tables."""

    live: sqlite3.Connection
    pg: object
    plan: Plan
    captured: list[CapturedTable]


@contextlib.contextmanager
def open_session(sqlite_path: Path, pg_url: str, schema: str | None = None) -> Iterator[Session]:
    """Connect to the live file (value functions registered) and to the target; build the plan
    (capture objects left out) and the captured tables (``CaptureRefused`` if one has no key)."""
    if not Path(sqlite_path).is_file():
        raise FileNotFoundError(f"SQLite file not found: {sqlite_path}")
    live = connect_live(sqlite_path)
    register_functions(live)
    try:
        pg = psycopg2.connect(libpq_url(pg_url), connect_timeout=10)
    except BaseException:
        live.close()
        raise
    try:
        with pg.cursor() as cur:
            schema = schema or current_schema(cur)
            sources = {name: table for name, table in read_source_tables(live).items()
                       if not name.startswith(PREFIX)}
            plan = build_plan(sources, read_target_tables(cur, schema), schema)
        pg.rollback()
        if plan.problems:
            raise CaptureRefused("the target does not match the SQLite file: "
                                 + "; ".join(plan.problems))
        yield Session(live, pg, plan, captured_tables(live, plan))
    finally:
        pg.close()
        live.close()


def _require_state(cur, sqlite_path: Path, phase: str | None = None) -> OnlineState:
    state = read_state(cur)
    if state is None:
        raise OnlineFailed("no online cutover is in progress in this target database: "
                           "run capture-start first")
    if Path(state.sqlite_path) != Path(sqlite_path).resolve():
        raise OnlineFailed(f"the online state here belongs to {state.sqlite_path}, not "
                           f"{Path(sqlite_path).resolve()}")
    if phase and state.phase != phase:
        raise OnlineFailed(f"the pre-copy has not completed (phase {state.phase!r}): run precopy")
    return state


def start_capture(session: Session, sqlite_path: Path,
                  coercions: frozenset[str] = frozenset()) -> list[str]:
    """Install capture (idempotent) and record both fingerprints; what changed."""
    names = [table.plan.source.name for table in session.captured]
    with session.pg.cursor() as cur:
        existing = read_state(cur)
        target_print = target_fingerprint(cur, session.plan)
    changed = install_capture(session.live, session.captured)
    source_print = schema_fingerprint(session.live, names)
    if existing is not None and Path(existing.sqlite_path) == Path(sqlite_path).resolve() \
            and (existing.source_fingerprint, existing.target_fingerprint) == \
            (source_print, target_print):
        return changed + ["online state kept (capture was already started)"]
    with session.pg.cursor() as cur:
        create_state(cur, OnlineState(
            sqlite_path=str(Path(sqlite_path).resolve()), phase=PHASE_CAPTURING, position=None,
            source_fingerprint=source_print, target_fingerprint=target_print,
            coercions=coercions))
    session.pg.commit()
    return changed + ["online state recorded in the target (schema _cutover_online)"]


def snapshot_with_position(sqlite_path: Path, destination: Path) -> int:
    """A consistent copy of the live file (online backup API, one step) without the capture
    objects; returns the change-log position it stands for."""
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    with contextlib.closing(connect_live(sqlite_path)) as src, \
            contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as copy:
        src.backup(copy)
        position = change_log_position(copy)
        remove_capture(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
    partial.replace(destination)
    return position


def _load_sums(report: dict) -> dict[str, TableSums]:
    return {entry["table"]: TableSums(entry["source_rows"], int(entry["source_checksum"], 16),
                                      entry["target_rows"], int(entry["target_checksum"], 16))
            for entry in report["load"]["tables"]}


def precopy_load(session: Session, sqlite_path: Path, pg_url: str, snapshot_dir: Path, *,
                 quiet: bool = True) -> tuple[int, Path, dict]:
    """Snapshot, load it with the migration command (copy engine, verified), record the
    position and the per-table sums; returns (position, snapshot file, the command's report)."""
    with session.pg.cursor() as cur:
        state = _require_state(cur, sqlite_path)
    session.pg.rollback()
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_dir / f"precopy-{Path(sqlite_path).stem}.sqlite"
    position = snapshot_with_position(sqlite_path, snapshot)
    with tempfile.TemporaryDirectory() as work:
        report_path = Path(work) / "report.json"
        argv = ["--sqlite", str(snapshot), "--pg", pg_url, "--engine", "copy", "--yes",
                "--report", str(report_path), *(["--quiet"] if quiet else [])]
        for coercion in sorted(state.coercions):
            argv += ["--allow-coercion", coercion]
        code = cli.main(argv)
        report = json.loads(report_path.read_text(encoding="utf-8")) \
            if report_path.is_file() else {}
    if code != cli.EXIT_OK:
        raise OnlineFailed(f"the snapshot load failed (migration exit code {code}; see its "
                           "output above); nothing is recorded, rerun precopy")
    with session.pg.cursor() as cur:
        _require_state(cur, sqlite_path)
        record_load(cur, position, str(snapshot), _load_sums(report))
    session.pg.commit()
    return position, snapshot, report


@dataclass
class Lag:
    """How far the target is behind the live file."""

    position: int
    log_end: int
    rows_behind: int
    rate_rows_per_s: float | None = None

    @property
    def estimated_window_s(self) -> float | None:
        """Seconds a last round would take at the measured rate (None before a round ran)."""
        return None if not self.rate_rows_per_s else self.rows_behind / self.rate_rows_per_s

    def describe(self) -> str:
        text = f"{self.rows_behind:,} row change(s) behind (position {self.position:,})"
        estimate = self.estimated_window_s
        return text + (f", last round ≈ {estimate:.1f} s" if estimate is not None else "")


def lag(session: Session, sqlite_path: Path, rate: float | None = None) -> Lag:
    """Rows behind and the estimated window, from the state and the live change log."""
    with session.pg.cursor() as cur:
        state = _require_state(cur, sqlite_path, PHASE_LOADED)
    session.pg.rollback()
    end = change_log_position(session.live)
    return Lag(state.position or 0, end, rows_behind(session.live, state.position or 0), rate)


def catch_up_round(session: Session, sqlite_path: Path) -> RoundResult:
    """One verified round, committed; ``OnlineFailed`` (rolled back) when rows differ."""
    with session.pg.cursor() as cur:
        state = _require_state(cur, sqlite_path, PHASE_LOADED)
        try:
            result = apply_round(session.live, cur, session.captured, state)
        except BaseException:
            session.pg.rollback()
            raise
    if not result.ok:
        session.pg.rollback()
        raise OnlineFailed("round verification failed (rolled back, position unchanged): "
                           + "; ".join(result.problems))
    session.pg.commit()
    return result


@dataclass
class WindowResult:
    """The window's last round and verification."""

    round: RoundResult
    problems: list[str] = field(default_factory=list)
    touched_checked: int = 0
    sequences_reset: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.round.ok and not self.problems


def verify_touched(session: Session, cur, state: OnlineState,
                   just_checked: dict[str, set[str]]) -> tuple[int, list[str]]:
    """Every key applied since the snapshot, row by row against the (frozen) live file;
    ``just_checked`` (the last round's keys, compared in this transaction) are not read twice."""
    keys = touched_keys(cur)
    problems, checked = [], sum(len(done) for done in just_checked.values())
    session.live.execute("BEGIN")
    try:
        for table in session.captured:
            wanted = keys.get(table.name, set()) - just_checked.get(table.name, set())
            if not wanted:
                continue
            source = read_source_rows(session.live, table, wanted, state.coercions)
            staged_keys, _rows = stage(cur, table, source)
            problems += differences(table, source.rows, target_rows(cur, table, staged_keys))
            checked += len(wanted)
    finally:
        session.live.execute("COMMIT")
    return checked, problems


def _sum_problems(state: OnlineState) -> list[str]:
    return [f"{name}: whole-table checksum differs (source {sums.source_rows:,} rows "
            f"{sums.source_sum:016x}, target {sums.target_rows:,} rows {sums.target_sum:016x})"
            for name, sums in sorted(state.tables.items()) if not sums.equal]


def window(session: Session, sqlite_path: Path) -> WindowResult:
    """Last round, sequences, verification — one transaction, committed only when it all holds
    (row counts and whole-table checksums as the rounds kept them, every key touched since the
    snapshot row by row, every sequence ahead). The writes must be frozen already."""
    started = time.monotonic()
    with session.pg.cursor() as cur:
        state = _require_state(cur, sqlite_path, PHASE_LOADED)
        try:
            result = WindowResult(apply_round(session.live, cur, session.captured, state))
            result.sequences_reset = len(reset_sequences(cur))
            result.touched_checked, touched = verify_touched(session, cur, state,
                                                             result.round.touched)
            result.problems += touched + _sum_problems(state)
            names = {table.name for table in session.captured}
            result.problems += [
                f"sequence {s.sequence} of {s.table}.{s.column} hands out {s.next_value}, but "
                f"the column holds up to {s.max_value}"
                for s in sequence_states(cur, session.plan.schema, names) if not s.ahead]
        except BaseException:
            session.pg.rollback()
            raise
    if result.ok:
        session.pg.commit()
    else:
        session.pg.rollback()
    result.seconds = time.monotonic() - started
    return result


def stop_capture(sqlite_path: Path, pg_url: str | None) -> list[str]:
    """Drop the triggers and the change log from the live file, and the online state from the
    target (when a URL is given and it is reachable); what was removed."""
    removed = []
    with contextlib.closing(connect_live(sqlite_path)) as live:
        removed += remove_capture(live)
    if pg_url:
        with contextlib.closing(psycopg2.connect(libpq_url(pg_url), connect_timeout=10)) as pg:
            with pg.cursor() as cur:
                if drop_state(cur):
                    removed.append("online state (schema _cutover_online) dropped from the target")
            pg.commit()
    return removed
