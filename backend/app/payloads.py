"""Request and response bodies of the HTTP API (pydantic models)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

MAX_ID = 2_147_483_647  # the largest value an INTEGER primary key holds on every backend
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _storable_text(value: str) -> str:
    """Refuse characters a PostgreSQL text column cannot hold (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _storable_json(value: Any) -> Any:
    """Apply the text rule to every string inside a JSON document (keys included)."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return {_storable_text(key): _storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable_json(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        raise ValueError("integers in JSON must fit in 64 bits")
    return value


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values (SQLite hands them back so) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _in_booking_range(value: dt.datetime) -> dt.datetime:
    try:
        value = as_utc(value)
    except OverflowError:
        raise ValueError("is out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


Text = Annotated[str, AfterValidator(_storable_text)]
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
BookingTime = Annotated[AwareDatetime, AfterValidator(_in_booking_range)]
UtcDatetime = Annotated[dt.datetime, AfterValidator(as_utc)]
Features = Annotated[dict[str, Any], AfterValidator(_storable_json)]
DecimalString = Annotated[Decimal, PlainSerializer(lambda value: f"{value:.2f}", return_type=str)]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrmModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- auth -----------------------------------------------------------------------------------

class LoginRequest(ApiModel):
    email: Annotated[Text, Field(min_length=3, max_length=254)]
    password: Annotated[Text, Field(min_length=1, max_length=1024)]


class RefreshRequest(ApiModel):
    refresh_token: Annotated[Text, Field(min_length=1, max_length=512)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class UserOut(OrmModel):
    id: int
    email: str
    name: str
    is_admin: bool


# --- rooms ----------------------------------------------------------------------------------

class RoomCreate(ApiModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    capacity: Annotated[int, Field(ge=1, le=100_000)]
    hourly_rate: Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2,
                                          allow_inf_nan=False)]
    features: Features | None = None
    description: Annotated[Text, Field(max_length=100_000)] | None = None


class RoomOut(OrmModel):
    id: int
    name: str
    capacity: int
    hourly_rate: DecimalString
    features: dict[str, Any] | None
    description: str | None


# --- bookings -------------------------------------------------------------------------------

class BookingWindow(ApiModel):
    @model_validator(mode="after")
    def _ends_after_start(self):
        starts_at, ends_at = getattr(self, "starts_at", None), getattr(self, "ends_at", None)
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            raise ValueError("ends_at must be later than starts_at")
        return self


class BookingCreate(BookingWindow):
    room_id: RecordId
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    starts_at: BookingTime
    ends_at: BookingTime
    notes: Annotated[Text, Field(max_length=100_000)] | None = None


class BookingUpdate(BookingWindow):
    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    starts_at: BookingTime | None = None
    ends_at: BookingTime | None = None
    notes: Annotated[Text, Field(max_length=100_000)] | None = None


class BookingOut(OrmModel):
    id: int
    room_id: int
    user_id: int
    title: str
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    status: str
    notes: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


# --- uploads, health, status ----------------------------------------------------------------

class UploadOut(OrmModel):
    id: int
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: UtcDatetime


class Health(BaseModel):
    status: str


class MaintenanceOut(BaseModel):
    maintenance: bool
    message: str | None
