"""What a migration run says at the end: findings, the per-table table, and the JSON report.

Every URL that reaches the report goes through ``redact_url``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from foundation.database_urls import redact_url
from sqlite_to_pg.engines import LoadResult
from sqlite_to_pg.preflight import Finding, PreflightReport
from sqlite_to_pg.values import CATEGORIES


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
    """A plain-text table with a header row."""
    header = ("table", "rows", "seconds", "checksum")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    lines = [" | ".join(str(cell).ljust(widths[i]) if i in (0, 3) else str(cell).rjust(widths[i])
                        for i, cell in enumerate(row)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


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


def build_report(*, status: str, exit_code: int, sqlite_path: Path, pg_url: str, engine: str,
                 preflight: PreflightReport | None, result: LoadResult | None,
                 messages: list[str], seconds: float, dry_run: bool) -> dict[str, Any]:
    """The JSON-ready report of a run."""
    verification = getattr(result, "verification", None)
    checks = {check.table: check for check in getattr(verification, "tables", [])}
    tables = []
    for load in (result.tables if result else []):
        check = checks.get(load.table)
        tables.append({
            "table": load.table, "rows": load.rows, "seconds": round(load.seconds, 3),
            "source_rows": check.source_rows if check else None,
            "target_rows": check.target_rows if check else None,
            "source_checksum": f"{check.source_checksum:016x}" if check else None,
            "target_checksum": f"{check.target_checksum:016x}" if check else None,
            "verdict": check.verdict if check else "not verified",
        })
    return {
        "status": status,
        "exit_code": exit_code,
        "dry_run": dry_run,
        "source": str(sqlite_path),
        "target": redact_url(pg_url),
        "engine": engine,
        "seconds": round(seconds, 3),
        "preflight": {
            "ok": preflight.ok if preflight else None,
            "row_counts": preflight.row_counts if preflight else {},
            "findings": [asdict(finding) for finding in preflight.findings] if preflight else [],
            "coercions": preflight.coerced() if preflight else {},
        },
        "load": {
            "committed": result.committed if result else False,
            "seconds": round(result.seconds, 3) if result else None,
            "tables": tables,
            "notes": result.notes if result else [],
        },
        "verification": {
            "ok": verification.ok if verification else None,
            "seconds": round(verification.seconds, 3) if verification else None,
            "problems": verification.problems if verification else [],
        },
        "messages": messages,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write the report as indented JSON."""
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
