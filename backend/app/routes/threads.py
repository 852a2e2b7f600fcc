"""Chat threads over REST: create one, list mine, page through a thread's messages.

Sending happens on the socket (``/ws``); a new thread is announced on the realtime bus in the
creating transaction, so members' open sockets start hearing it at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field

from app.db import SessionDep
from app.deps import CurrentUser
from app.payloads import MAX_ID, ApiModel, RecordId, Text
from app.realtime import realtime_service, store
from app.realtime.events import BusEvent
from app.realtime.protocol import MessageOut

router = APIRouter(prefix="/threads", tags=["chat"])

MAX_MEMBERS = 200  # also keeps the bus announcement far below NOTIFY's 8000-byte payload limit
ThreadId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ThreadCreate(ApiModel):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    member_ids: Annotated[list[RecordId], Field(max_length=MAX_MEMBERS)] = []


class ThreadOut(BaseModel):
    id: int
    title: str
    member_ids: list[int]


@router.post("", response_model=ThreadOut, status_code=status.HTTP_201_CREATED,
             responses={404: {"description": "a member id is not a user"}})
def create_thread(request: Request, session: SessionDep, user: CurrentUser,
                  thread_in: ThreadCreate) -> ThreadOut:
    """A thread with you and ``member_ids`` as members."""
    try:
        thread, member_ids = store.create_thread(session, title=thread_in.title,
                                                 creator_id=user.id,
                                                 member_ids=thread_in.member_ids)
    except store.ChatRuleBroken as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    realtime_service(request.app).bus.publish_in(
        session, BusEvent(kind="thread", thread_id=thread.id, user_ids=tuple(member_ids)))
    session.commit()
    return ThreadOut(id=thread.id, title=thread.title, member_ids=member_ids)


@router.get("", response_model=list[ThreadOut])
def list_threads(session: SessionDep, user: CurrentUser) -> list[ThreadOut]:
    """The threads you are a member of, oldest first."""
    threads = store.threads_of(session, user_id=user.id)
    members = store.thread_member_ids(session, [thread.id for thread in threads])
    return [ThreadOut(id=thread.id, title=thread.title, member_ids=members.get(thread.id, []))
            for thread in threads]


@router.get("/{thread_id}/messages", response_model=list[MessageOut],
            responses={404: {"description": "no such thread (or you are not a member)"}})
def list_messages(session: SessionDep, user: CurrentUser, thread_id: ThreadId,
                  after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Messages with id > ``after_id``, oldest first (members only)."""
    if not store.is_member(session, thread_id=thread_id, user_id=user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"thread {thread_id} not found")
    return store.messages_after(session, thread_ids=[thread_id], after_id=after_id, limit=limit)
