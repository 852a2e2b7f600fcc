"""Passwords (argon2) and tokens: short-lived JWT access tokens, opaque rotating refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings

ALGORITHM = "HS256"
FROZEN_REFRESH_TYPE = "refresh-frozen"
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


def _verified_claims(token: str, settings: Settings, typ: str, *required: str) -> dict:
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "typ", *required]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if claims.get("typ") != typ:
        raise InvalidToken(f"not an {typ} token" if typ == "access" else f"not a {typ} token")
    try:
        claims["sub"] = int(claims["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("bad subject") from None
    return claims


def decode_access_token(token: str, settings: Settings) -> int:
    """The user id of a valid access token; InvalidToken otherwise (incl. expired)."""
    return _verified_claims(token, settings, "access")["sub"]


@dataclass(frozen=True)
class FrozenRefreshClaims:
    """What a refresh token issued during a freeze says (it has no row until first used)."""

    user_id: int
    family_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def create_frozen_refresh_token(user_id: int, settings: Settings, *, family_id: str) -> str:
    """A signed refresh token that needs no row: what a login answers while writes are frozen.

    Its row (and the rotation) comes with its first use after the freeze, on whatever database
    the API then uses; the secret key is what makes it survive the move.
    """
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": str(user_id), "jti": family_id, "iat": int(now.timestamp()),
              "exp": int((now + dt.timedelta(days=settings.refresh_token_days)).timestamp()),
              "typ": FROZEN_REFRESH_TYPE}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def looks_like_jwt(token: str) -> bool:
    """Opaque refresh tokens (``token_urlsafe``) never contain a dot; signed ones have two."""
    return token.count(".") == 2


def decode_frozen_refresh_token(token: str, settings: Settings) -> FrozenRefreshClaims:
    """The claims of a valid refresh token issued during a freeze; InvalidToken otherwise."""
    claims = _verified_claims(token, settings, FROZEN_REFRESH_TYPE, "jti", "iat")
    return FrozenRefreshClaims(
        user_id=claims["sub"], family_id=str(claims["jti"])[:36],
        issued_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC))


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
