"""What a migration run says at the end: findings, the per-table table, and the JSON report.

Every URL that reaches the report goes through ``redact_url``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import TypeAdapter

from foundation.database_urls import redact_url
from foundation.text_tables import render_table
from sqlite_to_pg.engines import LoadResult, TableLoad
from sqlite_to_pg.finding_categories import CATEGORIES
from sqlite_to_pg.preflight import Finding, PreflightReport
from sqlite_to_pg.verify import TableCheck


def format_findings(findings: list[Finding]) -> str:
    """Findings grouped by category, one line per table/column, with examples."""
    lines = []
    for category in sorted({finding.category for finding in findings}):
        group = [finding for finding in findings if finding.category == category]
        lines.append(f"{category}: {CATEGORIES.get(category, category)}")
        for finding in group:
            status = (f"coerced by --allow-coercion {finding.coercion}" if not finding.blocking
                      else "blocks the load")
            detail = f" [{finding.detail}]" if finding.detail else ""
            lines.append(f"  {finding.where}: {finding.count:,} row(s){detail} ({status})")
            lines += [f"      {example}" for example in finding.examples]
    return "\n".join(lines)


def format_table(rows: list[tuple[str, str, str, str]]) -> str:
    """The end table: per table, rows loaded, seconds and the checksum verdict."""
    return render_table(("table", "rows", "seconds", "checksum"), rows, right=(1, 2))


def table_rows(result: LoadResult | None) -> list[tuple[str, str, str, str]]:
    """Rows for the end table: per table, rows loaded, seconds, checksum verdict."""
    if result is None:
        return []
    checks = {check.table: check for check in getattr(result.verification, "tables", [])}
    rows = []
    for load in result.tables:
        check = checks.get(load.table)
        rows.append((load.table, f"{load.rows:,}", f"{load.seconds:.2f}",
                     check.verdict if check else "not verified"))
    return rows


@dataclass
class TableReport:
    """One table of a run: rows loaded, seconds, and both sides' count and checksum."""

    table: str
    rows: int
    seconds: float
    source_rows: int | None = None
    target_rows: int | None = None
    source_checksum: str | None = None
    target_checksum: str | None = None
    verdict: str = "not verified"


@dataclass
class PreflightSection:
    ok: bool | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    coercions: dict[str, int] = field(default_factory=dict)


@dataclass
class LoadSection:
    committed: bool = False
    seconds: float | None = None
    tables: list[TableReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class VerificationSection:
    ok: bool | None = None
    seconds: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class MigrationReport:
    """The migration command's JSON report (``--report FILE``), written and read back typed.

    The runbook reads it with :meth:`read` instead of walking the JSON by hand; the target URL
    in it is always redacted.
    """

    status: str
    exit_code: int
    dry_run: bool
    source: str
    target: str
    engine: str
    seconds: float
    preflight: PreflightSection = field(default_factory=PreflightSection)
    load: LoadSection = field(default_factory=LoadSection)
    verification: VerificationSection = field(default_factory=VerificationSection)
    messages: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """The run committed and its verification held for every table."""
        return bool(self.load.committed and self.verification.ok
                    and all(table.verdict == "ok" for table in self.load.tables))

    def write(self, path: Path) -> None:
        """Write the report as indented JSON."""
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n",
                        encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> MigrationReport:
        """Read a report that :meth:`write` wrote (a malformed one raises ``ValueError``)."""
        return TypeAdapter(cls).validate_json(path.read_bytes())


def _table_report(load: TableLoad, check: TableCheck | None) -> TableReport:
    if check is None:
        return TableReport(table=load.table, rows=load.rows, seconds=round(load.seconds, 3))
    return TableReport(
        table=load.table, rows=load.rows, seconds=round(load.seconds, 3),
        source_rows=check.source_rows, target_rows=check.target_rows,
        source_checksum=f"{check.source_checksum:016x}",
        target_checksum=f"{check.target_checksum:016x}", verdict=check.verdict)


def build_report(*, status: str, exit_code: int, sqlite_path: Path, pg_url: str, engine: str,
                 preflight: PreflightReport | None, result: LoadResult | None,
                 messages: list[str], seconds: float, dry_run: bool) -> MigrationReport:
    """The report of a run, however far it got."""
    verification = getattr(result, "verification", None)
    checks = {check.table: check for check in getattr(verification, "tables", [])}
    report = MigrationReport(status=status, exit_code=exit_code, dry_run=dry_run,
                             source=str(sqlite_path), target=redact_url(pg_url), engine=engine,
                             seconds=round(seconds, 3), messages=messages)
    if preflight is not None:
        report.preflight = PreflightSection(ok=preflight.ok, row_counts=preflight.row_counts,
                                            findings=preflight.findings,
                                            coercions=preflight.coerced())
    if result is not None:
        report.load = LoadSection(
            committed=result.committed, seconds=round(result.seconds, 3), notes=result.notes,
            tables=[_table_report(load, checks.get(load.table)) for load in result.tables])
    if verification is not None:
        report.verification = VerificationSection(ok=verification.ok,
                                                  seconds=round(verification.seconds, 3),
                                                  problems=verification.problems)
    return report
