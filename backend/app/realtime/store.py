"""Chat data access (synchronous; the socket code runs these in a worker thread).

Shared by the WebSocket handlers, the fan-out dispatcher and the chat REST routes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from app.models import ChatMessage, ChatThread, ThreadMember, User


class ChatRuleBroken(ValueError):
    """A request the data forbids (e.g. a reply to a message of another thread)."""


def load_identity(session: Session, *, user_id: int,
                  also: ColumnElement | None = None) -> frozenset[int] | None:
    """The thread ids of an existing user, in one query; None when the user does not exist.

    ``also``: a column the same statement evaluates when the user exists (the bus's
    announcement of the socket being opened, see ``Bus.notify_column``).
    """
    columns = [User.id, ThreadMember.thread_id] + ([] if also is None else [also])
    rows = session.execute(
        select(*columns)
        .outerjoin(ThreadMember, ThreadMember.user_id == User.id)
        .where(User.id == user_id)
    ).all()
    if not rows:
        return None
    return frozenset(row[1] for row in rows if row[1] is not None)


def insert_message(session: Session, *, thread_id: int, sender_id: int, body: str,
                   reply_to_id: int | None) -> ChatMessage:
    """Add a message (not committed); a reply must point at a message of the same thread."""
    if reply_to_id is not None:
        parent_thread = session.scalar(
            select(ChatMessage.thread_id).where(ChatMessage.id == reply_to_id))
        if parent_thread != thread_id:
            raise ChatRuleBroken(f"reply_to_id {reply_to_id} is not a message of thread "
                                 f"{thread_id}")
    message = ChatMessage(thread_id=thread_id, sender_id=sender_id, body=body,
                          reply_to_id=reply_to_id)
    session.add(message)
    session.flush()
    return message


def mark_read(session: Session, *, thread_id: int, user_id: int, message_id: int) -> None:
    """Move the member's read marker forward to ``message_id`` (never backwards)."""
    in_thread = session.scalar(select(ChatMessage.id).where(
        ChatMessage.id == message_id, ChatMessage.thread_id == thread_id))
    if in_thread is None:
        raise ChatRuleBroken(f"message {message_id} is not in thread {thread_id}")
    marker = func.coalesce(ThreadMember.last_read_message_id, 0)
    session.execute(
        update(ThreadMember)
        .where(ThreadMember.thread_id == thread_id, ThreadMember.user_id == user_id,
               marker < message_id)
        .values(last_read_message_id=message_id)
    )


def load_messages(session: Session, message_ids: Iterable[int]) -> dict[int, ChatMessage]:
    """Messages by id (missing ids are simply absent)."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    rows = session.scalars(select(ChatMessage).where(ChatMessage.id.in_(ids)))
    return {row.id: row for row in rows}


def messages_after(session: Session, *, thread_ids: Iterable[int], after_id: int,
                   limit: int) -> Sequence[ChatMessage]:
    """Messages of the given threads with id > after_id, oldest first, at most ``limit``."""
    ids = sorted(set(thread_ids))
    if not ids:
        return []
    return session.scalars(
        select(ChatMessage)
        .where(ChatMessage.thread_id.in_(ids), ChatMessage.id > after_id)
        .order_by(ChatMessage.id)
        .limit(limit)
    ).all()


def thread_member_ids(session: Session, thread_ids: Iterable[int]) -> dict[int, list[int]]:
    """Member user ids of each thread (sorted), for the given thread ids."""
    members: dict[int, list[int]] = {}
    ids = sorted(set(thread_ids))
    if not ids:
        return members
    rows = session.execute(
        select(ThreadMember.thread_id, ThreadMember.user_id)
        .where(ThreadMember.thread_id.in_(ids))
        .order_by(ThreadMember.thread_id, ThreadMember.user_id)
    )
    for thread_id, user_id in rows:
        members.setdefault(thread_id, []).append(user_id)
    return members


def threads_of(session: Session, *, user_id: int) -> Sequence[ChatThread]:
    """The threads a user is a member of, oldest first."""
    return session.scalars(
        select(ChatThread)
        .join(ThreadMember, ThreadMember.thread_id == ChatThread.id)
        .where(ThreadMember.user_id == user_id)
        .order_by(ChatThread.id)
    ).all()


def create_thread(session: Session, *, title: str, creator_id: int,
                  member_ids: Iterable[int]) -> tuple[ChatThread, list[int]]:
    """A thread with the creator and ``member_ids`` as members (not committed).

    Raises ChatRuleBroken naming the member ids that are not users.
    """
    wanted = sorted(set(member_ids) | {creator_id})
    found = set(session.scalars(select(User.id).where(User.id.in_(wanted))))
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        raise ChatRuleBroken(f"no such user id(s): {', '.join(map(str, missing))}")
    thread = ChatThread(title=title, created_by_id=creator_id)
    session.add(thread)
    session.flush()
    session.add_all(ThreadMember(thread_id=thread.id, user_id=user_id) for user_id in wanted)
    session.flush()
    return thread, wanted


def is_member(session: Session, *, thread_id: int, user_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(ThreadMember).where(
        ThreadMember.thread_id == thread_id, ThreadMember.user_id == user_id)) == 1
