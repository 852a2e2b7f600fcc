"""Rollback preparation: a read-only, integrity-checked snapshot of the SQLite file.

The copy is made with SQLite's online backup API, so it is consistent even while the API keeps
writing. The snapshot is checked with ``PRAGMA integrity_check``, its sha256 is written to a
sidecar ``.sha256`` file (``sha256sum -c`` format) and both files are made read-only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from foundation.sqlite_files import open_read_only
from runbook.config import config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class Snapshot:
    """A snapshot file, its checksum and its sidecar."""

    path: Path
    sha256: str
    size_bytes: int

    @property
    def sidecar(self) -> Path:
        return sidecar_path(self.path)


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def integrity_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite file: an empty list when it is sound."""
    with contextlib.closing(open_read_only(path)) as conn:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def snapshot_name(source: Path, now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{source.stem}-{stamp}.sqlite"


def back_up_sqlite_file(source: Path, dest_dir: Path) -> Snapshot:
    """Back up ``source`` into ``dest_dir`` online, check it, checksum it, make it read-only."""
    if not source.is_file():
        raise RunbookError(f"no SQLite file at {source} (set SQLITE_PATH or pass --sqlite)")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / snapshot_name(source)
    if target.exists():
        raise RunbookError(f"{target} already exists; refusing to overwrite a snapshot")
    with contextlib.closing(open_read_only(source)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    problems = integrity_problems(target)
    if problems:
        raise RunbookError(f"snapshot {target} fails PRAGMA integrity_check: {problems[:5]}")
    digest = file_sha256(target)
    sidecar = sidecar_path(target)
    sidecar.write_text(f"{digest}  {target.name}\n", encoding="utf-8")
    for path in (target, sidecar):
        path.chmod(READ_ONLY)
    return Snapshot(path=target, sha256=digest, size_bytes=target.stat().st_size)


def verify_snapshot(path: Path) -> Snapshot:
    """Re-check a snapshot against its sidecar checksum and integrity; raise if it changed."""
    sidecar = sidecar_path(path)
    if not path.is_file() or not sidecar.is_file():
        raise RunbookError(f"snapshot {path} or its checksum file {sidecar.name} is missing")
    recorded = sidecar.read_text(encoding="utf-8").split()[0]
    actual = file_sha256(path)
    if actual != recorded:
        raise RunbookError(f"snapshot {path} changed: sha256 {actual} != recorded {recorded}")
    problems = integrity_problems(path)
    if problems:
        raise RunbookError(f"snapshot {path} fails PRAGMA integrity_check: {problems[:5]}")
    return Snapshot(path=path, sha256=actual, size_bytes=path.stat().st_size)


def latest_snapshot(dest_dir: Path) -> Path | None:
    """The newest snapshot in a directory (names sort by time), or None."""
    found = sorted(dest_dir.glob("*.sqlite")) if dest_dir.is_dir() else []
    return found[-1] if found else None


@runbook_task(help={
    "sqlite": "the live SQLite file to snapshot (default: SQLITE_PATH)",
    "dest": "directory for the snapshot and its .sha256 (default: SNAPSHOT_DIR)",
    "dry_run": "say what would be copied and where, copy nothing",
})
def snapshot(ctx, sqlite: str | None = None, dest: str | None = None,
             dry_run: bool = False) -> None:
    """[rollback prep] Read-only, integrity-checked SQLite snapshot + sha256 (online backup)."""
    cfg = config_from(ctx).with_overrides(sqlite_path=sqlite, snapshot_dir=dest)
    shell = Shell(dry_run=dry_run)
    source, dest_dir = cfg.path(cfg.sqlite_path), cfg.path(cfg.snapshot_dir)
    shell.say(f"snapshot: {source} -> {dest_dir}/ (SQLite backup API, safe while the API runs)")
    if dry_run:
        shell.say("[dry-run] nothing copied")
        return
    taken = back_up_sqlite_file(source, dest_dir)
    verify_snapshot(taken.path)
    shell.say(f"snapshot ok: {taken.path} ({taken.size_bytes} bytes), integrity ok, "
              f"sha256 {taken.sha256}, read-only; checksum in {taken.sidecar.name}")
