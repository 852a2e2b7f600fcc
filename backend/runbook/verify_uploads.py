"""``verify-uploads``: the cutover moves rows, not files. Download uploads from the running API
(now on its new database) and check each file's size and sha256 against its row.

The rows are read from the database the API uses now (its env file's URL); each file is
downloaded through ``GET /uploads/{id}/content`` as its owner (an access token made with the
API's own SECRET_KEY, as the API resolves it: its env file, else this environment), so the
check sees exactly what a user would: a flip onto a host or volume without the files fails here,
naming every file, before the window is unfrozen. ``--all`` checks every upload; by default a
sample (always the first and the last upload, the rest spread evenly).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from app.models import Upload
from app.security import create_access_token
from app.settings import load_settings
from foundation.database_urls import redact_url
from runbook.api_env_file import current_database_url, current_env
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.freeze import engine_for
from runbook.shell import Shell

DEFAULT_SAMPLE = 20
DOWNLOAD_TIMEOUT_S = 60.0
SHOWN_FAILURES = 20


@dataclass(frozen=True)
class StoredUpload:
    """What the row says about a file."""

    id: int
    owner_id: int
    stored_name: str
    size_bytes: int
    sha256: str


def read_rows(url: str) -> list[StoredUpload]:
    """Every upload row of the API's database, by id."""
    with engine_for(url) as engine, engine.connect() as connection:
        rows = connection.execute(select(Upload.id, Upload.owner_id, Upload.stored_name,
                                         Upload.size_bytes, Upload.sha256).order_by(Upload.id))
        return [StoredUpload(*row) for row in rows]


def spread_sample(rows: list[StoredUpload], size: int) -> list[StoredUpload]:
    """``size`` rows spread evenly over the list, the first and the last included."""
    if size >= len(rows):
        return rows
    if size <= 1:
        return rows[:size]
    step = (len(rows) - 1) / (size - 1)
    return [rows[round(i * step)] for i in range(size)]


def _api_settings(cfg: RunbookConfig):
    """The API's settings as far as tokens go (SECRET_KEY, ENVIRONMENT: env file first)."""
    env = current_env(cfg)
    overrides = {key.lower(): env[key] for key in ("SECRET_KEY", "ENVIRONMENT") if key in env}
    return load_settings(**overrides)


def check_one(client: httpx.Client, row: StoredUpload, token: str) -> str | None:
    """Why the API's copy of this upload is not the row's file, or None when it is."""
    digest, size = hashlib.sha256(), 0
    with client.stream("GET", f"/uploads/{row.id}/content",
                       headers={"Authorization": f"Bearer {token}"}) as answer:
        if answer.status_code != 200:
            answer.read()
            return f"GET /uploads/{row.id}/content answered {answer.status_code}: " \
                   f"{answer.text[:120]}"
        for chunk in answer.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    if size != row.size_bytes or digest.hexdigest() != row.sha256:
        return f"content differs: {size} bytes, sha256 {digest.hexdigest()[:16]}…; the row " \
               f"says {row.size_bytes} bytes, sha256 {row.sha256[:16]}…"
    return None


def verify_uploads_or_fail(shell: Shell, cfg: RunbookConfig, *,
                           sample: int | None = DEFAULT_SAMPLE) -> int:
    """Check a sample (``None``: all) of the uploads through the API; raise naming bad files."""
    url = current_database_url(cfg)
    how_many = "every" if sample is None else f"a sample of {sample}"
    if shell.dry_run:
        shell.say(f"[dry-run] would download {how_many} of the uploads listed in "
                  f"{redact_url(url)} from {cfg.api_url} and compare size and sha256 with "
                  f"their rows")
        return 0
    rows = read_rows(url)
    chosen = rows if sample is None else spread_sample(rows, sample)
    shell.say(f"verify uploads: {len(chosen)} of {len(rows)} upload(s) listed in "
              f"{redact_url(url)}, downloaded from {cfg.api_url}")
    if not chosen:
        shell.say("no uploads to verify")
        return 0
    settings = _api_settings(cfg)
    tokens: dict[int, str] = {}
    failures = []
    with httpx.Client(base_url=cfg.api_url, timeout=DOWNLOAD_TIMEOUT_S) as client:
        for row in chosen:
            token = tokens.setdefault(row.owner_id, create_access_token(row.owner_id, settings))
            problem = check_one(client, row, token)
            if problem is not None:
                failures.append(f"upload {row.id} (file {row.stored_name}, owner "
                                f"{row.owner_id}): {problem}")
    if failures:
        shown = "\n  ".join(failures[:SHOWN_FAILURES])
        more = (f"\n  … and {len(failures) - SHOWN_FAILURES} more"
                if len(failures) > SHOWN_FAILURES else "")
        raise RunbookError(f"{len(failures)} of {len(chosen)} upload(s) checked are missing or "
                           f"differ on the API's host (is UPLOAD_DIR there?):\n  {shown}{more}")
    shell.say(f"PASS uploads: {len(chosen)} file(s) match their rows (size and sha256)")
    return len(chosen)


@runbook_task(help={
    "all_": "check every upload, not a sample",
    "sample": f"how many uploads to check, spread over all of them (default {DEFAULT_SAMPLE})",
    "api_url": "base URL of the running API (default: API_URL)",
    "dry_run": "say what would be checked; read and download nothing",
})
def verify_uploads(ctx, all_: bool = False, sample: int = DEFAULT_SAMPLE,
                   api_url: str | None = None, dry_run: bool = False) -> None:
    """[cutover 5b] Download uploads from the running API; check each file against its row."""
    cfg = config_from(ctx).with_overrides(api_url=api_url)
    verify_uploads_or_fail(Shell(dry_run=dry_run), cfg, sample=None if all_ else sample)
