"""Rooms: anyone may list them; administrators add them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from app.crud import rooms as crud
from app.db import SessionDep
from app.deps import AdminUser
from app.payloads import MAX_ID, RoomCreate, RoomOut

router = APIRouter(prefix="/rooms", tags=["rooms"])

RoomId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=list[RoomOut])
def list_rooms(session: SessionDep):
    """Every room, by id."""
    return crud.list_rooms(session)


@router.get("/{room_id}", response_model=RoomOut, responses={404: {"description": "no such room"}})
def get_room(session: SessionDep, room_id: RoomId):
    """One room."""
    room = crud.get_room(session, room_id=room_id)
    if room is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"room {room_id} not found")
    return room


@router.post("", response_model=RoomOut, status_code=status.HTTP_201_CREATED,
             responses={403: {"description": "not an administrator"},
                        409: {"description": "name taken"}})
def create_room(session: SessionDep, _admin: AdminUser, room_in: RoomCreate):
    """Add a room (administrators only); names are unique."""
    if crud.room_name_taken(session, name=room_in.name):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"a room named {room_in.name!r} already exists")
    return crud.create_room(session, room_in=room_in)
