"""Bookings: users see and change their own; administrators see all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from app.crud import bookings as crud
from app.db import SessionDep
from app.deps import CurrentUser
from app.models import Booking, User
from app.payloads import MAX_ID, BookingCreate, BookingOut, BookingUpdate

router = APIRouter(prefix="/bookings", tags=["bookings"])

BookingId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND = {404: {"description": "no such booking (or not yours)"}}
CONFLICT = {409: {"description": "overlaps an active booking of the room"}}


def _visible_or_404(session: SessionDep, user: User, booking_id: int) -> Booking:
    booking = crud.get_visible_booking(session, user=user, booking_id=booking_id)
    if booking is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"booking {booking_id} not found")
    return booking


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


@router.post("", response_model=BookingOut, status_code=status.HTTP_201_CREATED,
             responses={**CONFLICT, 404: {"description": "no such room"}})
def create_booking(session: SessionDep, user: CurrentUser, booking_in: BookingCreate):
    """Book a room for a window (ISO-8601 with offset); 409 if it overlaps an active booking."""
    try:
        return crud.create_booking(session, booking_in=booking_in, user_id=user.id)
    except crud.RoomNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except crud.BookingConflict as exc:
        raise _conflict(exc) from None


@router.get("", response_model=list[BookingOut])
def list_bookings(session: SessionDep, user: CurrentUser,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0):
    """Your bookings (administrators: everyone's), latest window first."""
    return crud.visible_bookings(session, user=user, limit=limit, offset=offset)


@router.get("/{booking_id}", response_model=BookingOut, responses=NOT_FOUND)
def get_booking(session: SessionDep, user: CurrentUser, booking_id: BookingId):
    """One booking."""
    return _visible_or_404(session, user, booking_id)


@router.patch("/{booking_id}", response_model=BookingOut, responses={**NOT_FOUND, **CONFLICT})
def update_booking(session: SessionDep, user: CurrentUser, booking_id: BookingId,
                   changes: BookingUpdate):
    """Change title, notes or the window; a new window is checked for overlaps again."""
    booking = _visible_or_404(session, user, booking_id)
    try:
        return crud.update_booking(session, booking=booking, changes=changes)
    except crud.BadWindow as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except crud.BookingConflict as exc:
        raise _conflict(exc) from None


@router.post("/{booking_id}/cancel", response_model=BookingOut, responses=NOT_FOUND)
def cancel_booking(session: SessionDep, user: CurrentUser, booking_id: BookingId):
    """Cancel a booking (its window becomes free again)."""
    return crud.cancel_booking(session, booking=_visible_or_404(session, user, booking_id))
