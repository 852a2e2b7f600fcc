"""Rooms: list, read, create."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Room
from app.payloads import RoomCreate


def list_rooms(session: Session) -> list[Room]:
    return list(session.scalars(select(Room).order_by(Room.id)))


def get_room(session: Session, *, room_id: int) -> Room | None:
    return session.get(Room, room_id)


def room_name_taken(session: Session, *, name: str) -> bool:
    return session.scalars(select(Room.id).where(Room.name == name)).first() is not None


def create_room(session: Session, *, room_in: RoomCreate) -> Room:
    """Add a room (committed)."""
    room = Room(**room_in.model_dump())
    session.add(room)
    session.commit()
    return room
