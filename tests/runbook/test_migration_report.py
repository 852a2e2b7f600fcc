"""The migration's JSON report is one typed model: written by the script, read back by the
runbook, and the rehearsal's "verify" step trusts what it says (no recount of its own)."""

from __future__ import annotations

import re

import pytest

from runbook.errors import RunbookError
from runbook.rehearse import verified_detail
from runbook.report import (
    RehearsalReport,
    StepRecord,
    findings_lines,
    render_markdown,
    scaling_seconds,
)
from sqlite_to_pg.engines import LoadResult, TableLoad
from sqlite_to_pg.preflight import Finding, PreflightReport
from sqlite_to_pg.report import MigrationReport, build_report
from sqlite_to_pg.verify import TableCheck, Verification


def _report(target_rows: int = 3, target_checksum: int = 0xABC) -> MigrationReport:
    check = TableCheck(table="rooms", source_rows=3, target_rows=target_rows,
                       source_checksum=0xABC, target_checksum=target_checksum, seconds=0.1)
    result = LoadResult(engine="copy", tables=[TableLoad("rooms", target_rows, 0.5)],
                        seconds=1.0, committed=True,
                        verification=Verification(tables=[check], seconds=0.2))
    preflight = PreflightReport(findings=[Finding("nul-byte", "rooms", "name", 1, ["rowid 7"],
                                                  blocking=False, coercion="strip-nul")],
                                row_counts={"rooms": 3})
    return build_report(status="ok", exit_code=0, sqlite_path="/data/app.db",
                        pg_url="postgresql://app:s3cret@db:5432/app", engine="copy",
                        preflight=preflight, result=result, messages=["m"], seconds=1.5,
                        dry_run=False)


def test_the_report_round_trips_typed_and_redacted(tmp_path):
    path = tmp_path / "report.json"
    _report().write(path)
    assert "s3cret" not in path.read_text()
    back = MigrationReport.read(path)
    assert back == _report()
    assert back.load.tables[0].source_checksum == "0000000000000abc"
    assert back.preflight.findings[0].where == "rooms.name"
    assert back.verified
    assert verified_detail(back) == "3 rows in 1 tables, counts and checksums equal"


@pytest.mark.parametrize("changes", [{"target_rows": 2}, {"target_checksum": 0xABD}])
def test_the_rehearsal_refuses_a_migration_whose_verification_did_not_hold(changes):
    report = _report(**changes)
    assert not report.verified
    with pytest.raises(RunbookError, match="rooms: 3 rows in SQLite"):
        verified_detail(report)


def test_a_malformed_report_is_a_clear_error(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"status": "ok"}')
    with pytest.raises(ValueError, match="exit_code"):
        MigrationReport.read(path)


def test_the_rehearsal_report_shows_the_migrations_tables_and_findings():
    report = RehearsalReport(started_at="now", source="s.db", target="t", migration=_report(),
                             steps=[StepRecord("migrate", 1.5, True, "engine copy")])
    report.findings = findings_lines(report.migration)
    markdown = render_markdown(report)
    assert re.search(r"\| rooms \| +3 \| +0\.5 \| `0000000000000abc` \| `0000000000000abc` +"
                     r"\| ok +\|", markdown)
    assert re.search(r"\| migrate \| +1\.50 \| ok +\| engine copy \|", markdown)
    assert "- nul-byte: rooms.name: 1 row(s), coerced (strip-nul); e.g. rowid 7" in markdown
    assert scaling_seconds(report.migration, 10.0) == pytest.approx(1.2)  # load + verify
