"""The chat socket's wire format: client frames in (validated), server frames out (built).

Client → server: ``send``, ``typing``, ``read``, ``subscribe``. Server → client: ``ready``,
``message``, ``typing``, ``read``, ``error``. A frame that does not parse raises ``FrameError``
whose text becomes the ``detail`` of an error frame; the socket stays open.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.json_depth import depth_problem
from app.payloads import OrmModel, RecordId, Text, UtcDatetime

MAX_BODY_CHARS = 4000
MAX_CLIENT_REF_CHARS = 64
MAX_FRAME_CHARS = 64 * 1024

MessageId = Annotated[int, Field(ge=1, le=2**63 - 1)]  # chat_messages.id is a BIGINT


class FrameError(ValueError):
    """A client frame that cannot be acted on; the message is safe to show to the client."""


class _ClientFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendFrame(_ClientFrame):
    type: Literal["send"]
    thread_id: RecordId
    body: Annotated[Text, Field(min_length=1, max_length=MAX_BODY_CHARS)]
    reply_to_id: MessageId | None = None
    client_ref: Annotated[str, Field(max_length=MAX_CLIENT_REF_CHARS)] | None = None


class TypingFrame(_ClientFrame):
    type: Literal["typing"]
    thread_id: RecordId


class ReadFrame(_ClientFrame):
    type: Literal["read"]
    thread_id: RecordId
    message_id: MessageId


class SubscribeFrame(_ClientFrame):
    type: Literal["subscribe"]


ClientFrame = SendFrame | TypingFrame | ReadFrame | SubscribeFrame
_CLIENT_FRAMES = TypeAdapter(Annotated[ClientFrame, Field(discriminator="type")])
KNOWN_TYPES = ("send", "typing", "read", "subscribe")


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"][1:]) or "frame"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_client_frame(text: str | bytes | None) -> ClientFrame:
    """The validated frame; FrameError naming what is wrong (not JSON, unknown type, bad field)."""
    if text is None:
        raise FrameError("binary frames are not supported; send JSON text")
    if len(text) > MAX_FRAME_CHARS:
        raise FrameError(f"frame longer than {MAX_FRAME_CHARS} characters")
    too_deep = depth_problem(text)
    if too_deep is not None:
        raise FrameError(f"frame is not acceptable: {too_deep}")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise FrameError("frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("frame must be a JSON object")
    if data.get("type") not in KNOWN_TYPES:
        raise FrameError(f"unknown frame type {str(data.get('type'))[:40]!r}; "
                         f"expected one of {', '.join(KNOWN_TYPES)}")
    try:
        return _CLIENT_FRAMES.validate_python(data)
    except ValidationError as exc:
        raise FrameError(f"invalid {data['type']} frame: {_describe(exc)}") from None


class MessageOut(OrmModel):
    """A chat message as the REST API and the socket show it."""

    id: int
    thread_id: int
    sender_id: int
    body: str
    reply_to_id: int | None
    created_at: UtcDatetime


def ready_frame(user_id: int, thread_ids: frozenset[int] | set[int]) -> dict[str, Any]:
    return {"type": "ready", "user_id": user_id, "thread_ids": sorted(thread_ids)}


def message_frame(message: MessageOut, client_ref: str | None = None) -> dict[str, Any]:
    frame = {"type": "message", "thread_id": message.thread_id,
             "message": message.model_dump(mode="json")}
    if client_ref is not None:
        frame["client_ref"] = client_ref
    return frame


def typing_frame(thread_id: int, user_id: int) -> dict[str, Any]:
    return {"type": "typing", "thread_id": thread_id, "user_id": user_id}


def read_frame(thread_id: int, user_id: int, message_id: int) -> dict[str, Any]:
    return {"type": "read", "thread_id": thread_id, "user_id": user_id, "message_id": message_id}


def error_frame(detail: str, *, status: int | None = None,
                client_ref: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "detail": detail}
    if status is not None:
        frame["status"] = status
    if client_ref is not None:
        frame["client_ref"] = client_ref
    return frame
