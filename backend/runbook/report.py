"""The rehearsal report: step timings, per-table rows and checksums, preflight findings, smoke
results, the window of both cutover paths (single-window and online) and the estimated
production maintenance window, as JSON and Markdown.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foundation.database_urls import redact_text
from foundation.text_tables import render_table
from sqlite_to_pg.report import MigrationReport, TableReport

# The window is freeze + schema + migrate (scaled) + flip + smoke + unfreeze, times this factor.
SAFETY_FACTOR = 1.5
FIXED_STEPS = ("schema", "start API on PostgreSQL", "smoke")
# The rehearsal's steps that a single-window cutover runs between freeze and unfreeze.
SINGLE_WINDOW_STEPS = ("schema", "migrate", "start API on PostgreSQL", "smoke", "uploads")


@dataclass
class StepRecord:
    name: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class WindowFigures:
    """One cutover path's window in the rehearsal: seconds freeze → unfreeze, how they were
    obtained, and what the window holds (one line per part)."""

    path: str  # "single-window" | "online"
    seconds: float | None
    measured: str
    contains: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)  # part of the window -> seconds
    counts: dict[str, int] = field(default_factory=dict)  # rows, keys, … the window moved


@dataclass
class RehearsalReport:
    """Everything a rehearsal measured; serialised as JSON and rendered as Markdown."""

    started_at: str
    source: str
    target: str
    steps: list[StepRecord] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    smoke: list[dict[str, Any]] = field(default_factory=list)
    window: dict[str, Any] = field(default_factory=dict)
    windows: list[WindowFigures] = field(default_factory=list)
    migration: MigrationReport | None = None
    ok: bool = False

    @property
    def tables(self) -> list[TableReport]:
        """Per table: rows, seconds, both sides' checksums and the verdict of the migration."""
        return self.migration.load.tables if self.migration else []

    def step_seconds(self, name: str) -> float:
        return sum(step.seconds for step in self.steps if step.name == name)


def findings_lines(migration: MigrationReport | None) -> list[str]:
    """The preflight findings of the migration's report, one line each."""
    lines = []
    for finding in migration.preflight.findings if migration else []:
        status = "blocks the load" if finding.blocking else f"coerced ({finding.coercion})"
        lines.append(f"{finding.category}: {finding.where}: {finding.count} row(s), "
                     f"{status}; e.g. {', '.join(map(str, finding.examples))}")
    return lines


def scaling_seconds(migration: MigrationReport | None, migrate_seconds: float) -> float:
    """The part of the migrate step that grows with the data: the load and the verification.

    The rest (process start, preflight set-up, key re-adds of empty tables) is a fixed cost.
    """
    load = (migration.load.seconds if migration else None) or 0.0
    verify = (migration.verification.seconds if migration else None) or 0.0
    return min(migrate_seconds, load + verify) if load else migrate_seconds


def estimate_window(report: RehearsalReport, source_bytes: int, migrate_seconds: float,
                    production_bytes: int | None) -> dict[str, Any]:
    """Scale the data-bound part of the migration to the production file; add fixed costs.

    window = (migrate fixed cost + load-and-verify seconds × production/rehearsal bytes
              + schema + API start + smoke) × SAFETY_FACTOR
    """
    scaled = scaling_seconds(report.migration, migrate_seconds)
    rate = source_bytes / scaled if scaled > 0 else 0.0
    fixed = migrate_seconds - scaled + sum(report.step_seconds(name) for name in FIXED_STEPS)
    estimate: dict[str, Any] = {
        "rehearsal_bytes": source_bytes, "migrate_seconds": round(migrate_seconds, 2),
        "load_and_verify_seconds": round(scaled, 2), "bytes_per_second": round(rate),
        "fixed_seconds": round(fixed, 2), "safety_factor": SAFETY_FACTOR,
    }
    if production_bytes and rate > 0:
        migrate = production_bytes / rate
        estimate.update(production_bytes=production_bytes,
                        production_migrate_seconds=round(migrate, 1),
                        production_window_seconds=round((migrate + fixed) * SAFETY_FACTOR, 1),
                        extrapolation_factor=round(production_bytes / max(source_bytes, 1), 1))
    return estimate


def single_window_figures(report: RehearsalReport, freeze_and_unfreeze_s: float
                          ) -> WindowFigures:
    """The single-window path's window at the rehearsal's size: the rehearsal's steps a
    cutover runs under the freeze (schema, migrate = load + verify, the API's start on
    PostgreSQL, smoke, uploads), plus the freeze's and unfreeze's waits for the API's workers
    (the rehearsal does not freeze this path's API, so those are the configured waits)."""
    done = {step.name: step for step in report.steps if step.ok}
    parts = [done[name] for name in SINGLE_WINDOW_STEPS if name in done]
    rows = sum(t.rows or 0 for t in report.tables)
    contains = [f"{part.name}: {part.seconds:.2f} s" + (f" ({rows:,} rows loaded and verified)"
                                                        if part.name == "migrate" else "")
                for part in parts]
    contains.append(f"freeze + unfreeze: {freeze_and_unfreeze_s:.2f} s (the flag waits, "
                    "not rehearsed on this path)")
    notes = [f"grows with the file: load + verify at "
             f"{report.window.get('bytes_per_second', 0) / 1e6:.2f} MB/s of SQLite"]
    if "production_window_seconds" in report.window:
        notes.append(f"estimated at production size: "
                     f"{report.window['production_window_seconds']:.0f} s (below)")
    complete = len(parts) == len(SINGLE_WINDOW_STEPS)
    seconds = {part.name: part.seconds for part in parts}
    seconds["freeze + unfreeze"] = round(freeze_and_unfreeze_s, 3)
    return WindowFigures(
        path="single-window", seconds=round(sum(seconds.values()), 2) if complete else None,
        measured="sum of the rehearsal's steps inside the window" if complete
        else "not measured: the rehearsal stopped before every step of the window ran",
        contains=contains, notes=notes, parts=seconds, counts={"rows": rows})


def _windows_table(windows: list[WindowFigures]) -> str:
    return render_table(
        ("path", "seconds (freeze → unfreeze)", "measured as", "the window holds"),
        [(w.path, "—" if w.seconds is None else f"{w.seconds:.1f}", w.measured,
          "; ".join(w.contains) or "—") for w in windows], right=(1,))


def _tables_table(tables: list[TableReport]) -> str:
    return render_table(
        ("table", "rows", "seconds", "SQLite checksum", "PostgreSQL checksum", "verdict"),
        [(t.table, t.rows, t.seconds, f"`{t.source_checksum}`", f"`{t.target_checksum}`",
          t.verdict) for t in tables], right=(1, 2))


def _steps_table(steps: list[StepRecord]) -> str:
    return render_table(("step", "seconds", "result", "detail"),
                        [(s.name, f"{s.seconds:.2f}", "ok" if s.ok else "FAILED", s.detail)
                         for s in steps], right=(1,))


def render_markdown(report: RehearsalReport) -> str:
    """A human-readable report (the JSON has the same content and more)."""
    window = report.window
    lines = [f"# Rehearsal report — {'PASSED' if report.ok else 'FAILED'}", "",
             f"- started: {report.started_at}", f"- source: `{report.source}`",
             f"- target: `{report.target}`", "", "## Steps", "", _steps_table(report.steps),
             "", "## Tables (rows and checksums)", "", _tables_table(report.tables), "",
             "## Preflight findings", ""]
    lines += [f"- {finding}" for finding in report.findings] or ["- none"]
    lines += ["", "## Smoke test", ""]
    lines += [f"- {'PASS' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}"
              for c in report.smoke] or ["- not run"]
    lines += ["", "## Maintenance window, both paths", ""]
    if report.windows:
        lines += [_windows_table(report.windows), ""]
        lines += [f"- {w.path}: {note}" for w in report.windows for note in w.notes]
    else:
        lines += ["- not measured"]
    lines += ["", "## Production maintenance window", ""]
    if "production_window_seconds" in window:
        lines += [f"Estimated window: **{window['production_window_seconds'] / 60:.1f} min** for "
                  f"{window['production_bytes'] / 1e6:.1f} MB of SQLite (load + verify "
                  f"{window['production_migrate_seconds']:.0f} s at the measured "
                  f"{window['bytes_per_second'] / 1e6:.2f} MB/s, plus "
                  f"{window['fixed_seconds']:.0f} s of fixed costs, × {SAFETY_FACTOR})."]
        if window["extrapolation_factor"] > 100:
            lines += ["", f"This extrapolates {window['extrapolation_factor']:.0f}× beyond the "
                      "rehearsal: rehearse with `--rows` or `--sqlite` closer to production "
                      "size for a firmer figure."]
    else:
        lines += [f"Measured {window.get('bytes_per_second', 0) / 1e6:.2f} MB/s of SQLite; pass "
                  "`--prod-sqlite PATH` or `--prod-size-mb N` for the production estimate."]
    return redact_text("\n".join(lines) + "\n")


def write_report(report: RehearsalReport, directory: Path) -> tuple[Path, Path]:
    """Write ``rehearsal-<time>.json`` and ``.md`` into ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = directory / f"rehearsal-{stamp}.json"
    md_path = directory / f"rehearsal-{stamp}.md"
    payload = {**asdict(report), "tables": [asdict(table) for table in report.tables]}
    json_path.write_text(redact_text(json.dumps(payload, indent=2, default=str)),
                         encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
