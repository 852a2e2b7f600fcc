"""Bookings: create, list, read, change and cancel, with an overlap check that holds under
concurrent requests (the room row is locked in the same transaction as the check)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Booking, Room, User
from app.payloads import BookingCreate, BookingUpdate, as_utc

ACTIVE = "active"
CANCELLED = "cancelled"


class RoomNotFound(Exception):
    """The booking names a room that does not exist."""


class BookingConflict(Exception):
    """The window overlaps an active booking of the same room, or the booking is cancelled."""


class BadWindow(ValueError):
    """The window ends before it starts."""


def lock_room(session: Session, *, room_id: int) -> Room | None:
    """Lock the room for the rest of this transaction, so check-then-write is atomic.

    PostgreSQL: ``SELECT … FOR UPDATE`` on the room row. SQLite has no row locks: a no-op
    write to the row takes the database's write lock first, which serialises writers.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Room).where(Room.id == room_id).values(capacity=Room.capacity))
    return session.scalars(select(Room).where(Room.id == room_id).with_for_update()).first()


def find_overlap(session: Session, *, room_id: int, starts_at: dt.datetime, ends_at: dt.datetime,
                 ignore_id: int | None = None) -> Booking | None:
    """An active booking of the room whose window intersects [starts_at, ends_at)."""
    query = select(Booking).where(Booking.room_id == room_id, Booking.status == ACTIVE,
                                  Booking.starts_at < ends_at, Booking.ends_at > starts_at)
    if ignore_id is not None:
        query = query.where(Booking.id != ignore_id)
    return session.scalars(query.limit(1)).first()


def _ensure_free(session: Session, *, room_id: int, starts_at: dt.datetime,
                 ends_at: dt.datetime, ignore_id: int | None = None) -> None:
    if lock_room(session, room_id=room_id) is None:
        session.rollback()
        raise RoomNotFound(f"room {room_id} does not exist")
    clash = find_overlap(session, room_id=room_id, starts_at=starts_at, ends_at=ends_at,
                         ignore_id=ignore_id)
    if clash is not None:
        session.rollback()
        raise BookingConflict(f"room {room_id} is already booked from "
                              f"{as_utc(clash.starts_at).isoformat()} to "
                              f"{as_utc(clash.ends_at).isoformat()} (booking {clash.id})")


def create_booking(session: Session, *, booking_in: BookingCreate, user_id: int) -> Booking:
    """Book a room (committed); RoomNotFound or BookingConflict otherwise."""
    _ensure_free(session, room_id=booking_in.room_id, starts_at=booking_in.starts_at,
                 ends_at=booking_in.ends_at)
    booking = Booking(**booking_in.model_dump(), user_id=user_id, status=ACTIVE)
    session.add(booking)
    session.commit()
    return booking


def visible_bookings(session: Session, *, user: User, limit: int, offset: int) -> list[Booking]:
    """The user's own bookings (all bookings for administrators), newest window first."""
    query = select(Booking)
    if not user.is_admin:
        query = query.where(Booking.user_id == user.id)
    query = query.order_by(Booking.starts_at.desc(), Booking.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def get_visible_booking(session: Session, *, user: User, booking_id: int) -> Booking | None:
    """The booking if this user may see it (owner or administrator), else None."""
    booking = session.get(Booking, booking_id)
    if booking is None or (booking.user_id != user.id and not user.is_admin):
        return None
    return booking


def update_booking(session: Session, *, booking: Booking, changes: BookingUpdate) -> Booking:
    """Apply the given fields (committed); a new window is checked for overlaps again."""
    if booking.status != ACTIVE:
        raise BookingConflict(f"booking {booking.id} is cancelled")
    fields = changes.model_dump(exclude_unset=True)
    for name in ("title", "starts_at", "ends_at"):
        if name in fields and fields[name] is None:
            raise BadWindow(f"{name} cannot be null")
    starts_at = fields.get("starts_at", as_utc(booking.starts_at))
    ends_at = fields.get("ends_at", as_utc(booking.ends_at))
    if ends_at <= starts_at:
        raise BadWindow("ends_at must be later than starts_at")
    if "starts_at" in fields or "ends_at" in fields:
        _ensure_free(session, room_id=booking.room_id, starts_at=starts_at, ends_at=ends_at,
                     ignore_id=booking.id)
    for name, value in fields.items():
        setattr(booking, name, value)
    session.commit()
    return booking


def cancel_booking(session: Session, *, booking: Booking) -> Booking:
    """Mark the booking cancelled (committed; cancelling twice is harmless)."""
    booking.status = CANCELLED
    session.commit()
    return booking
