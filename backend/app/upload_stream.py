"""Receiving an upload: stream one multipart field to disk, counting bytes and sha256 on the way.

The body is never held in memory nor spooled elsewhere: each chunk goes straight to
``UPLOAD_DIR/<uuid hex>.part``; past the size limit the partial file is removed and
UploadTooLarge is raised. The client's file name is kept as metadata only, never as a path.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

FIELD_NAME = "file"
MULTIPART_OVERHEAD = 64 * 1024  # room for boundaries, part headers and small extra fields
MAX_NAME_LENGTH = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")


class UploadTooLarge(Exception):
    """The upload is bigger than UPLOAD_MAX_BYTES."""


class BadUpload(ValueError):
    """The request is not a usable multipart upload; the message says why."""


@dataclass
class ReceivedFile:
    stored_name: str
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str


def _decode_header(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean_original_name(raw: bytes) -> str:
    """The client's file name as text; refused when it cannot be stored faithfully."""
    name = _decode_header(raw)
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadUpload(f"file name must be 1 to {MAX_NAME_LENGTH} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise BadUpload("file name must not contain control characters")
    return name


def clean_content_type(raw: bytes | None) -> str:
    """The part's media type (parameters dropped), or application/octet-stream if unusable."""
    media_type = _decode_header(parse_options_header(raw)[0] if raw else b"").strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else DEFAULT_CONTENT_TYPE


@dataclass
class _PartCollector:
    """Callbacks for MultipartParser: writes the first ``file`` part, skips everything else."""

    target: BinaryIO
    max_bytes: int
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, bytes] = field(default_factory=dict)
    writing: bool = False
    seen_file: bool = False
    too_large: bool = False
    original_name: str | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    size_bytes: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    problem: str | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.headers = {}

    def _header_end(self) -> None:
        self.headers[bytes(self.header_field).decode("latin-1").lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self.headers.get("content-disposition"))
        if disposition != b"form-data" or options.get(b"name") != FIELD_NAME.encode():
            return
        if self.seen_file:
            self.problem = f"only one '{FIELD_NAME}' field is allowed"
            return
        self.seen_file = True
        if b"filename" not in options:
            self.problem = f"field '{FIELD_NAME}' must be a file (with a file name)"
            return
        try:
            self.original_name = clean_original_name(options[b"filename"])
        except BadUpload as exc:
            self.problem = str(exc)
            return
        self.content_type = clean_content_type(self.headers.get("content-type"))
        self.writing = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.writing or self.too_large or self.problem:
            return
        chunk = data[start:end]
        self.size_bytes += len(chunk)
        if self.size_bytes > self.max_bytes:
            self.too_large = True
            return
        self.digest.update(chunk)
        self.target.write(chunk)

    def _part_end(self) -> None:
        self.writing = False


def _boundary(request: Request) -> bytes:
    media_type, options = parse_options_header(request.headers.get("content-type"))
    if media_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise BadUpload("expected a multipart/form-data body with a 'file' field")
    return options[b"boundary"]


def _declared_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def receive_upload(request: Request, *, upload_dir: Path, max_bytes: int) -> ReceivedFile:
    """Stream the request's ``file`` field into ``upload_dir``; its stored name is a uuid hex."""
    boundary = _boundary(request)
    declared = _declared_length(request)
    if declared is not None and declared > max_bytes + MULTIPART_OVERHEAD:
        raise UploadTooLarge(f"upload is {declared} bytes; the limit is {max_bytes}")
    upload_dir.mkdir(parents=True, exist_ok=True)
    stored_name = uuid.uuid4().hex
    partial = upload_dir / f"{stored_name}.part"
    try:
        with partial.open("xb") as target:
            collector = _PartCollector(target=target, max_bytes=max_bytes)
            await _feed(request, MultipartParser(boundary, collector.callbacks()), collector,
                        limit=max_bytes + MULTIPART_OVERHEAD)
        if collector.problem:
            raise BadUpload(collector.problem)
        if not collector.seen_file or collector.original_name is None:
            raise BadUpload(f"multipart field '{FIELD_NAME}' is required")
        partial.rename(upload_dir / stored_name)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ReceivedFile(stored_name=stored_name, original_name=collector.original_name,
                        content_type=collector.content_type, size_bytes=collector.size_bytes,
                        sha256=collector.digest.hexdigest())


async def _feed(request: Request, parser: MultipartParser, collector: _PartCollector, *,
                limit: int) -> None:
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if collector.too_large or received > limit:
                raise UploadTooLarge(f"upload exceeds the limit of {collector.max_bytes} bytes")
            parser.write(chunk)
            if collector.problem:
                return
        parser.finalize()
    except MultipartParseError as exc:
        raise BadUpload(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise BadUpload("the client went away during the upload") from None
    if collector.too_large:
        raise UploadTooLarge(f"upload exceeds the limit of {collector.max_bytes} bytes")
