"""``invoke rehearse`` as a new user runs it: no arguments, nothing configured."""

from __future__ import annotations

import json
import os

import pytest
from runbook_support import build_demo_sqlite, run_invoke

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow]


def _fresh_machine_environ(tmp_path) -> dict[str, str]:
    """This environment without any database settings; reports go to tmp_path."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("PG_TEST_URL", "DB_URL", "SQLALCHEMY_DATABASE_URL")}
    return {**environ, "REPORT_DIR": str(tmp_path / "reports")}


def test_rehearse_with_no_arguments_passes_and_writes_the_report(tmp_path, monkeypatch):
    for name in ("PG_TEST_URL", "DB_URL", "SQLALCHEMY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    done = run_invoke("rehearse", environ=_fresh_machine_environ(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "rehearsal PASSED" in done.stdout
    assert "removed smoke thread" in done.stdout and "and its file" in done.stdout
    (json_path,) = (tmp_path / "reports").glob("rehearsal-*.json")
    (md_path,) = (tmp_path / "reports").glob("rehearsal-*.md")
    report = json.loads(json_path.read_text())
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == [
        "build demo SQLite", "start PostgreSQL", "schema", "migrate", "verify",
        "start API on PostgreSQL", "smoke", "uploads", "stop what the rehearsal started"]
    assert all(step["ok"] for step in report["steps"])
    # every step but "verify" does work; verify reads the migration's own verification
    assert all(step["seconds"] > 0 for step in report["steps"] if step["name"] != "verify")
    verify_step = next(step for step in report["steps"] if step["name"] == "verify")
    assert verify_step["detail"].endswith("tables, counts and checksums equal")
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["bookings"]["rows"] > 0 and tables["chat_messages"]["rows"] > 0
    assert all(t["verdict"] == "ok" and t["source_checksum"] == t["target_checksum"]
               for t in tables.values())
    assert [c["name"] for c in report["smoke"] if c["ok"]] == [
        "login", "me", "websocket", "bookings", "uploads"]
    uploads_step = next(step for step in report["steps"] if step["name"] == "uploads")
    assert uploads_step["detail"].endswith("file(s) match their rows (size, sha256)")
    assert int(uploads_step["detail"].split()[0]) > 0
    assert report["window"]["bytes_per_second"] > 0
    markdown = md_path.read_text()
    assert "# Rehearsal report — PASSED" in markdown
    assert "## Production maintenance window" in markdown


def test_a_failed_rehearsal_still_reports_and_stops_what_it_started(tmp_path, chinook_path):
    """Chinook's tables are not the app's: migrate fails; the report says where; no traceback."""
    done = run_invoke("rehearse", "--sqlite", str(chinook_path),
                      environ={"REPORT_DIR": str(tmp_path / "reports")})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "rehearse failed" in done.stderr
    (json_path,) = (tmp_path / "reports").glob("rehearsal-*.json")
    report = json.loads(json_path.read_text())
    assert report["ok"] is False
    assert [(s["name"], s["ok"]) for s in report["steps"]][-1] == ("migrate", False)
    assert "FAILED" in next((tmp_path / "reports").glob("rehearsal-*.md")).read_text()


def test_a_rehearsal_whose_api_lacks_the_upload_files_fails_naming_them(tmp_path):
    """The cutover moves rows, not files: an API without the files is caught, by file name."""
    sqlite_path = build_demo_sqlite(tmp_path / "staging.db", rows=400)
    empty = tmp_path / "no-files-here"
    empty.mkdir()
    done = run_invoke("rehearse", "--sqlite", str(sqlite_path), "--upload-dir", str(empty),
                      environ={"REPORT_DIR": str(tmp_path / "reports")})
    assert done.returncode == 1, done.stdout[-3000:]
    assert "upload(s) checked are missing or differ" in done.stderr
    assert "(file " in done.stderr and "Traceback" not in done.stderr
    report = json.loads(next((tmp_path / "reports").glob("rehearsal-*.json")).read_text())
    assert [(s["name"], s["ok"]) for s in report["steps"]][-1] == ("uploads", False)
