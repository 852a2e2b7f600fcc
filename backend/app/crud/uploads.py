"""Uploads: the metadata rows of files stored in UPLOAD_DIR."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Upload
from app.upload_stream import ReceivedFile


def record_upload(session: Session, *, received: ReceivedFile, owner_id: int) -> Upload:
    """Store the metadata of a received file (committed)."""
    upload = Upload(owner_id=owner_id, original_name=received.original_name,
                    stored_name=received.stored_name, content_type=received.content_type,
                    size_bytes=received.size_bytes, sha256=received.sha256)
    session.add(upload)
    session.commit()
    return upload


def get_owned_upload(session: Session, *, upload_id: int, owner_id: int) -> Upload | None:
    """The upload if it belongs to this user, else None."""
    upload = session.get(Upload, upload_id)
    return upload if upload is not None and upload.owner_id == owner_id else None
