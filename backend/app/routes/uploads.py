"""Uploads: stream a file in, read its metadata, download it back (owner only)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from app.crud import uploads as crud
from app.db import SessionDep
from app.deps import CurrentUser, SettingsDep
from app.models import Upload
from app.payloads import MAX_ID, UploadOut
from app.upload_stream import BadUpload, UploadTooLarge, receive_upload

router = APIRouter(prefix="/uploads", tags=["uploads"])

UploadId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND = {404: {"description": "no such upload (or not yours)"}}
MULTIPART_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"],
               "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def content_disposition(original_name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\' else "_"
                       for char in original_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(original_name, safe='')}"


@router.post("", response_model=UploadOut, status_code=status.HTTP_201_CREATED,
             openapi_extra=MULTIPART_BODY,
             responses={413: {"description": "larger than UPLOAD_MAX_BYTES"}})
async def create_upload(request: Request, session: SessionDep, user: CurrentUser,
                        settings: SettingsDep):
    """Upload one file (multipart field ``file``), streamed to disk with its sha256."""
    try:
        received = await receive_upload(request, upload_dir=settings.upload_dir,
                                        max_bytes=settings.upload_max_bytes)
    except UploadTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=str(exc)) from None
    except BadUpload as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    try:
        return await run_in_threadpool(crud.record_upload, session, received=received,
                                       owner_id=user.id)
    except BaseException:
        (settings.upload_dir / received.stored_name).unlink(missing_ok=True)
        raise


def _owned_or_404(session: SessionDep, user_id: int, upload_id: int) -> Upload:
    upload = crud.get_owned_upload(session, upload_id=upload_id, owner_id=user_id)
    if upload is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"upload {upload_id} not found")
    return upload


@router.get("/{upload_id}", response_model=UploadOut, responses=NOT_FOUND)
def get_upload(session: SessionDep, user: CurrentUser, upload_id: UploadId):
    """An upload's metadata."""
    return _owned_or_404(session, user.id, upload_id)


@router.get("/{upload_id}/content", response_class=FileResponse,
            responses={**NOT_FOUND, 200: {"content": {"application/octet-stream": {}}}})
def get_upload_content(session: SessionDep, user: CurrentUser, settings: SettingsDep,
                       upload_id: UploadId):
    """The uploaded bytes, with the original name in Content-Disposition."""
    upload = _owned_or_404(session, user.id, upload_id)
    path: FilePath = settings.upload_dir / upload.stored_name
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=f"the content of upload {upload_id} is missing")
    return FileResponse(path, media_type=upload.content_type, headers={
        "Content-Disposition": content_disposition(upload.original_name),
        "X-Content-Type-Options": "nosniff",
    })
