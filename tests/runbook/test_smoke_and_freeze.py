"""Smoke test and freeze/unfreeze against a real uvicorn (two workers) on SQLite."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import api_env, run_api
from runbook_support import api_running, run_invoke, runbook_environ, seed_minimal_sqlite

from foundation.sqlite_files import open_read_only
from runbook.api_env_file import sqlite_env
from runbook.freeze import read_flag, set_freeze, write_probe
from runbook.shell import Shell
from runbook.smoke import CHECKS, run_smoke, smoke_or_fail


@pytest.fixture(scope="module")
def running_api(tmp_path_factory) -> Iterator[tuple[dict, object, Path]]:
    """A seeded SQLite file and the API on it (2 workers), started as the runbook starts it.

    Shared by the tests of this module; each test leaves the API unfrozen.
    """
    tmp_path = tmp_path_factory.mktemp("api")
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path))
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        yield environ, cfg, sqlite_path


def _leftover_counts(sqlite_path: Path, upload_dir: Path) -> dict[str, int]:
    with contextlib.closing(open_read_only(sqlite_path)) as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("chat_threads", "thread_members", "chat_messages", "uploads")}
    return {**counts, "upload files": len(list(upload_dir.glob("*")))}


def test_smoke_passes_every_check_on_a_healthy_api_and_removes_what_it_created(running_api):
    environ, cfg, sqlite_path = running_api
    upload_dir = Path(environ["UPLOAD_DIR"])
    upload_dir.mkdir(parents=True, exist_ok=True)
    before = _leftover_counts(sqlite_path, upload_dir)
    said = io.StringIO()
    results = smoke_or_fail(Shell(out=said), cfg)
    assert [r["name"] for r in results] == [name for name, _ in CHECKS]
    assert all(r["ok"] for r in results)
    assert _leftover_counts(sqlite_path, upload_dir) == before
    assert "removed smoke thread" in said.getvalue() and "and its file" in said.getvalue()


def test_the_smoke_task_passes_when_there_are_no_uploads_to_check(running_api):
    environ, _cfg, _sqlite_path = running_api
    done = run_invoke("smoke", environ=environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") == len(CHECKS)
    assert "0 of 0 upload(s) listed" in done.stdout and "no uploads to verify" in done.stdout


def test_smoke_dry_run_sends_nothing(tmp_path):
    environ = runbook_environ(tmp_path)  # nothing listens at its API_URL
    done = run_invoke("smoke", "--dry-run", environ=environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[dry-run] would run: login, me, websocket, bookings, uploads" in done.stdout
    assert "[dry-run] would download a sample of 20 of the uploads" in done.stdout


def test_smoke_reports_a_wrong_password_as_a_failed_login(running_api):
    _environ, cfg, _path = running_api
    results = run_smoke(cfg.api_url, cfg.smoke_email, "wrong-password")
    assert [(r.name, r.ok) for r in results] == [("login", False)]
    assert "expected 200, got 401" in results[0].detail


def test_freeze_refuses_writes_in_every_worker_then_unfreeze_restores_them(running_api):
    environ, cfg, sqlite_path = running_api
    frozen = run_invoke("freeze", "--yes", "--message", "moving to Postgres", environ=environ)
    assert frozen.returncode == 0, frozen.stdout + frozen.stderr
    assert "freeze ok: the API answers a write probe with 503" in frozen.stdout
    assert read_flag(f"sqlite:///{sqlite_path}").enabled
    with httpx.Client(base_url=cfg.api_url) as client:
        assert client.get("/status").json() == {"maintenance": True,
                                                 "message": "moving to Postgres"}
        # several requests so that both workers answer at least once
        for _ in range(10):
            refused = client.post("/rooms", json={"name": "x"})
            assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
            assert client.get("/rooms").headers["x-maintenance"] == "moving to Postgres"
    inside = smoke_or_fail(Shell(), cfg)  # reads work, writes are refused with 503
    assert "(frozen)" in inside[-1]["detail"]

    thawed = run_invoke("unfreeze", "--yes", environ=environ)
    assert thawed.returncode == 0, thawed.stdout + thawed.stderr
    assert not read_flag(f"sqlite:///{sqlite_path}").enabled
    after = smoke_or_fail(Shell(), cfg)
    assert "round-tripped" in after[-1]["detail"]


def test_freeze_dry_run_changes_nothing(running_api):
    environ, _cfg, sqlite_path = running_api
    done = run_invoke("freeze", "--dry-run", environ=environ)
    assert done.returncode == 0, done.stderr
    assert "[dry-run] would set maintenance enabled=True" in done.stdout
    assert not read_flag(f"sqlite:///{sqlite_path}").enabled


def test_freeze_without_a_reachable_api_fails_clearly(running_api):
    environ, cfg, _sqlite_path = running_api
    environ = {**environ, "API_URL": "http://127.0.0.1:9", "FREEZE_TIMEOUT": "2"}  # no API there
    done = run_invoke("freeze", "--yes", environ=environ)
    assert done.returncode == 1
    assert "did not refuse writes with 503" in done.stderr
    assert "Traceback" not in done.stderr
    set_freeze(Shell(assume_yes=True), cfg, False, None)  # leave it as found



def test_freeze_returns_only_once_every_api_process_refuses_writes(tmp_path):
    """Each API process caches the flag (3 s here). Process B cached "not frozen" 2 s after
    process A, the one freeze probes: freeze must not report success when A refreshes while B
    still accepts writes for up to 2 s more (they would miss the snapshot).
    """
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path))
    with api_running(environ, sqlite_env(sqlite_path), maintenance_cache_seconds=3) as cfg, \
            run_api(api_env(f"sqlite:///{sqlite_path}", tmp_path / "b-uploads",
                            MAINTENANCE_CACHE_SECONDS="3")) as other_api:
        assert write_probe(cfg.api_url) == 401   # A caches "not frozen" now …
        time.sleep(2)
        assert write_probe(other_api) == 401     # … and B two seconds later
        set_freeze(Shell(assume_yes=True), cfg, True, "window")
        assert write_probe(other_api) == 503
        set_freeze(Shell(assume_yes=True), cfg, False, None)
