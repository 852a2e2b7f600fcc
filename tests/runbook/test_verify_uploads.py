"""``invoke verify-uploads`` (and ``invoke smoke``, which checks a sample the same way): files
downloaded from the running API (two workers) are checked against their rows; an API whose host
lacks the files (or holds other bytes) fails naming them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runbook_support import api_running, run_invoke, runbook_environ, seed_minimal_sqlite

from runbook.api_env_file import current_database_url, sqlite_env
from runbook.errors import RunbookError
from runbook.freeze import write_probe
from runbook.shell import Shell
from runbook.verify_uploads import (
    StoredUpload,
    read_rows,
    spread_sample,
    verify_uploads_or_fail,
)

SIZES = (0, 1, 70_000, 3)


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory) -> Iterator[tuple[dict, object, list[StoredUpload]]]:
    """The API on a seeded SQLite file, with a few files uploaded through it (tests that
    break a file put it back)."""
    tmp_path = tmp_path_factory.mktemp("uploads")
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path))
    with api_running(environ, sqlite_env(sqlite_path)) as cfg, \
            httpx.Client(base_url=cfg.api_url) as client:
        token = client.post("/auth/login", json={"email": "demo@example.com",
                                                 "password": "demo-password"}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        for size in SIZES:
            answer = client.post("/uploads", headers=auth,
                                 files={"file": (f"f{size}.bin", os.urandom(size))})
            assert answer.status_code == 201, answer.text
        yield environ, cfg, read_rows(f"sqlite:///{sqlite_path}")


def test_every_upload_matches_its_row(uploaded):
    environ, _cfg, made = uploaded
    done = run_invoke("verify-uploads", "--all", environ=environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(made)} of {len(made)} upload(s)" in done.stdout
    assert f"PASS uploads: {len(made)} file(s) match their rows" in done.stdout


def test_dry_run_downloads_nothing(uploaded):
    environ, _cfg, made = uploaded
    done = run_invoke("verify-uploads", "--dry-run", "--sample", "2", environ=environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[dry-run] would download a sample of 2 of the uploads" in done.stdout


def test_an_api_without_the_files_fails_naming_each(uploaded):
    environ, _cfg, made = uploaded
    upload_dir = Path(environ["UPLOAD_DIR"])
    away = upload_dir.with_name("moved-away")
    shutil.move(upload_dir, away)
    try:
        done = run_invoke("verify-uploads", "--all", environ=environ)
    finally:
        shutil.move(away, upload_dir)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"{len(made)} of {len(made)} upload(s) checked are missing or differ" in output
    for upload in made:
        assert f"upload {upload.id} (file {upload.stored_name}" in output
    assert "answered 404" in output


def test_other_bytes_under_the_same_name_are_caught(uploaded):
    environ, cfg, made = uploaded
    victim = next(upload for upload in made if upload.size_bytes == 3)
    path = Path(environ["UPLOAD_DIR"]) / victim.stored_name
    original = path.read_bytes()
    path.write_bytes(bytes([original[0] ^ 1]) + original[1:])
    try:
        with pytest.raises(RunbookError) as failed:
            verify_uploads_or_fail(Shell(), cfg, sample=None)
    finally:
        path.write_bytes(original)
    assert f"1 of {len(made)} upload(s) checked" in str(failed.value)
    assert f"upload {victim.id} (file {victim.stored_name}" in str(failed.value)
    assert "content differs: 3 bytes" in str(failed.value)


def test_smoke_downloads_the_existing_uploads_and_names_a_missing_or_altered_one(uploaded):
    environ, _cfg, made = uploaded
    passed = run_invoke("smoke", environ=environ)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert f"PASS uploads: {len(made)} file(s) match their rows" in passed.stdout

    missing, altered = (next(u for u in made if u.size_bytes == size) for size in (1, 70_000))
    upload_dir = Path(environ["UPLOAD_DIR"])
    kept = {u.stored_name: (upload_dir / u.stored_name).read_bytes() for u in (missing, altered)}
    (upload_dir / missing.stored_name).unlink()
    (upload_dir / altered.stored_name).write_bytes(b"x" + kept[altered.stored_name][1:])
    try:
        failed = run_invoke("smoke", environ=environ)
    finally:
        for name, content in kept.items():
            (upload_dir / name).write_bytes(content)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output
    assert f"2 of {len(made)} upload(s) checked are missing or differ" in output
    assert f"upload {missing.id} (file {missing.stored_name}" in output
    assert f"upload {altered.id} (file {altered.stored_name}" in output
    assert "answered 404" in output and "content differs: 70000 bytes" in output


def test_the_sample_spreads_over_every_upload():
    rows = list(range(100))
    assert spread_sample(rows, 5) == [0, 25, 50, 74, 99]
    assert spread_sample(rows, 1) == [0]
    assert spread_sample(rows[:3], 20) == [0, 1, 2]


@pytest.mark.requires_pg
@pytest.mark.slow
def test_a_cutover_onto_a_host_without_the_files_stops_before_unfreezing(pg_url, tmp_path):
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path), DB_URL=pg_url,
                              DB_POOL_SIZE="2", DB_MAX_OVERFLOW="1")
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        with httpx.Client(base_url=cfg.api_url) as client:
            token = client.post("/auth/login", json={"email": "demo@example.com",
                                                     "password": "demo-password"}).json()
            assert client.post("/uploads", files={"file": ("kept.txt", b"kept")}, headers={
                "Authorization": f"Bearer {token['access_token']}"}).status_code == 201
        (stored,) = read_rows(f"sqlite:///{sqlite_path}")
        upload_dir = Path(environ["UPLOAD_DIR"])
        shutil.move(upload_dir, upload_dir.with_name("left-behind"))  # the new host lacks them

        failed = run_invoke("cutover", "--yes", "--local", environ=environ)
        assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
        assert "cutover stopped at step 'flip env and deploy'" in failed.stderr, failed.stderr
        assert f"upload {stored.id} (file {stored.stored_name}" in failed.stdout + failed.stderr
        assert current_database_url(cfg).startswith("postgresql")
        assert write_probe(cfg.api_url) == 503  # still frozen: not unfrozen onto missing files
