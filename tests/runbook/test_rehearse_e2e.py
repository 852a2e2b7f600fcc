"""``invoke rehearse`` as a new user runs it: no arguments, nothing configured. It rehearses
both cutover paths and its report gives both windows."""

from __future__ import annotations

import json
import os
import re

import pytest
from runbook_support import build_demo_sqlite, run_invoke

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow]
ONLINE_STEPS = [f"online: {name}" for name in (
    "copy the SQLite file", "start PostgreSQL database", "start API on the SQLite copy",
    "precopy while the API serves", "writes through the API", "catch-up round",
    "writes through the API", "freeze writes", "last round, sequences, verify",
    "flip env and deploy", "unfreeze", "capture-stop")]


def _fresh_machine_environ(tmp_path) -> dict[str, str]:
    """This environment without any database settings; reports go to tmp_path. As in a venv
    that is not activated, the ``python3`` on PATH is not the one invoke runs in (here a shim
    that fails): the runbook must run its own interpreter for every Python step."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("PG_TEST_URL", "DB_URL", "SQLALCHEMY_DATABASE_URL", "PYTHON")}
    shims = tmp_path / "not-the-venv"
    shims.mkdir()
    for name in ("python3", "python"):
        shim = shims / name
        shim.write_text("#!/bin/sh\necho 'not the interpreter the runbook runs in' >&2\nexit 97\n")
        shim.chmod(0o755)
    path = f"{shims}{os.pathsep}{environ.get('PATH', '')}"
    return {**environ, "PATH": path, "REPORT_DIR": str(tmp_path / "reports")}


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
        "start API on PostgreSQL", "smoke", "uploads", *ONLINE_STEPS,
        "stop what the rehearsal started"]
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
    _assert_both_windows(report, markdown)


def _assert_both_windows(report: dict, markdown: str) -> None:
    """Both paths' windows, each with seconds made of its parts and what it moved."""
    single, online = report["windows"]
    assert (single["path"], online["path"]) == ("single-window", "online")
    assert list(single["parts"]) == ["schema", "migrate", "start API on PostgreSQL", "smoke",
                                     "uploads", "freeze + unfreeze"]
    assert single["seconds"] == pytest.approx(sum(single["parts"].values()), abs=0.01)
    assert single["counts"]["rows"] == sum(t["rows"] for t in report["tables"]) > 0
    steps = {s["name"]: s["seconds"] for s in report["steps"]}
    assert single["parts"]["migrate"] == steps["migrate"] > 0
    # the online window: timed from freeze to unfreeze, so it holds its four parts and more
    assert list(online["parts"]) == ["freeze writes", "last round, sequences, verify",
                                     "flip env and deploy", "unfreeze"]
    assert all(seconds > 0 for seconds in online["parts"].values())
    assert sum(online["parts"].values()) <= online["seconds"] + 0.01  # rounding
    assert online["parts"]["freeze writes"] == steps["online: freeze writes"]
    # the smoke run's writes before the window (a booking, a thread, an upload) moved in it
    assert online["counts"]["keys_applied"] > 0
    assert online["counts"]["touched_checked"] >= online["counts"]["keys_applied"]
    assert online["counts"]["sequences_reset"] > 0
    assert online["measured"] == "timed, freeze to unfreeze"
    section = markdown.split("## Maintenance window, both paths", 1)[1].split("\n## ", 1)[0]
    for window in (single, online):
        row = next(line for line in section.splitlines()
                   if line.startswith(f"| {window['path']} "))
        assert re.search(rf"\|\s*{window['seconds']:.1f}\s*\|", row), row
    assert "key(s) applied" in section and "rows loaded and verified" in section


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
    assert [(w["path"], w["seconds"]) for w in report["windows"]] == [
        ("single-window", None), ("online", None)]
    assert report["windows"][1]["measured"].startswith("not rehearsed")


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


def test_a_rehearsal_on_one_staging_database_says_why_it_skips_the_online_path(tmp_path, pg_url):
    """``--pg`` names one database and the rehearsal creates none on staging: the single-window
    path is rehearsed, the online one is reported as not rehearsed, naming --online-pg."""
    done = run_invoke("rehearse", "--rows", "300", "--pg", pg_url, "--yes",
                      environ={"REPORT_DIR": str(tmp_path / "reports")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    report = json.loads(next((tmp_path / "reports").glob("rehearsal-*.json")).read_text())
    assert not [s["name"] for s in report["steps"] if s["name"].startswith("online: ")]
    single, online = report["windows"]
    assert single["seconds"] > 0 and online["seconds"] is None
    assert online["measured"].startswith("not rehearsed") and "--online-pg" in online["measured"]
