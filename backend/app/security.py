"""Passwords (argon2) and tokens: short-lived JWT access tokens, opaque rotating refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings

ALGORITHM = "HS256"
_hasher = PasswordHasher()


class InvalidToken(Exception):
    """An access token that is malformed, forged or expired (the API answers 401)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(user_id: int, settings: Settings, *, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=settings.access_token_minutes)).timestamp()),
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> int:
    """The user id of a valid access token; InvalidToken otherwise (incl. expired)."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "typ"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if claims.get("typ") != "access":
        raise InvalidToken("not an access token")
    try:
        return int(claims["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("bad subject") from None


def access_token_expiry(token: str) -> float:
    """The epoch second at which a (valid-looking) token expires; 0.0 when it cannot be read."""
    try:
        return float(jwt.decode(token, options={"verify_signature": False}).get("exp", 0))
    except jwt.PyJWTError:
        return 0.0


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are stored only as their sha256."""
    return hashlib.sha256(token.encode()).hexdigest()
