"""Removing what a smoke test created: its chat thread (with the message and membership) and
its upload (row and stored file). The booking it makes is cancelled by the check itself.

The API has no endpoints to delete these, so the rows go directly from the API's database (the
URL its env file names); the upload's file goes from the API's ``UPLOAD_DIR`` when it is on
this machine, else the operator is told which file to remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from app.models import ChatMessage, ChatThread, ThreadMember, Upload
from runbook.api_env_file import current_database_url, current_env
from runbook.config import PROJECT_ROOT, RunbookConfig
from runbook.freeze import engine_for

DEFAULT_UPLOAD_DIR = "./uploads"  # the API's default, relative to where it runs


@dataclass
class SmokeLeftovers:
    """Ids of what the smoke test's checks created (None: that check created nothing)."""

    thread_id: int | None = None
    upload_id: int | None = None

    def __bool__(self) -> bool:
        return self.thread_id is not None or self.upload_id is not None


def upload_dir(cfg: RunbookConfig) -> Path:
    """The API's UPLOAD_DIR as its env file says (relative paths from the project root)."""
    configured = Path(current_env(cfg).get("UPLOAD_DIR") or DEFAULT_UPLOAD_DIR)
    return configured if configured.is_absolute() else PROJECT_ROOT / configured


def remove_leftovers(cfg: RunbookConfig, leftovers: SmokeLeftovers) -> list[str]:
    """Delete the smoke test's thread and upload; one line per thing removed (or left)."""
    said: list[str] = []
    stored_name = None
    with engine_for(current_database_url(cfg)) as engine, engine.begin() as conn:
        if leftovers.thread_id is not None:
            messages = conn.execute(delete(ChatMessage).where(
                ChatMessage.thread_id == leftovers.thread_id)).rowcount
            conn.execute(delete(ThreadMember).where(
                ThreadMember.thread_id == leftovers.thread_id))
            conn.execute(delete(ChatThread).where(ChatThread.id == leftovers.thread_id))
            said.append(f"removed smoke thread {leftovers.thread_id} and its {messages} "
                        "message(s)")
        if leftovers.upload_id is not None:
            stored_name = conn.execute(select(Upload.stored_name).where(
                Upload.id == leftovers.upload_id)).scalar_one_or_none()
            conn.execute(delete(Upload).where(Upload.id == leftovers.upload_id))
    if stored_name is not None:
        stored = upload_dir(cfg) / stored_name
        if stored.is_file():
            stored.unlink()
            said.append(f"removed smoke upload {leftovers.upload_id} and its file {stored}")
        else:
            said.append(f"removed smoke upload {leftovers.upload_id}; its file {stored_name} is "
                        "not in this machine's UPLOAD_DIR: remove it on the API's host")
    return said
