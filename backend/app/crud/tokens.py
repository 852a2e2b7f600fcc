"""Refresh tokens: issue, rotate (with family revocation on reuse) and revoke.

While writes are frozen nothing here may write: a login gets a signed refresh token with no row
(``issue_while_frozen``), and ``check_while_frozen`` answers a refresh by reading only. Such a
token gets its row on its first use after the freeze (``adopt_frozen_token``), so a session
begun in the window survives the move to another database.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import RefreshToken, User, utcnow
from app.payloads import as_utc
from app.security import (
    InvalidToken,
    create_frozen_refresh_token,
    decode_frozen_refresh_token,
    hash_refresh_token,
    looks_like_jwt,
    new_refresh_token,
)
from app.settings import Settings


class RefreshRejected(Exception):
    """The refresh token is unknown, expired, revoked or already used."""


class NeedsWrite(Exception):
    """Answering needs a write (revoking a reused token's session): 503 while frozen."""


def issue_refresh_token(session: Session, *, user_id: int, settings: Settings,
                        family_id: str | None = None) -> tuple[str, RefreshToken]:
    """A new opaque token (returned once) and its stored row (only the hash is kept)."""
    token = new_refresh_token()
    now = utcnow()
    row = RefreshToken(user_id=user_id, token_hash=hash_refresh_token(token),
                       family_id=family_id or str(uuid.uuid4()), issued_at=now,
                       expires_at=now + dt.timedelta(days=settings.refresh_token_days))
    session.add(row)
    session.flush()
    return token, row


def issue_while_frozen(*, user_id: int, settings: Settings) -> str:
    """A login's refresh token while writes are frozen: signed, no row."""
    return create_frozen_refresh_token(user_id, settings, family_id=str(uuid.uuid4()))


def revoke_family(session: Session, *, family_id: str) -> None:
    """Revoke every token of one login session (not yet revoked ones)."""
    session.execute(update(RefreshToken)
                    .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


def _find(session: Session, token: str, *, lock: bool) -> RefreshToken | None:
    query = select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token))
    return session.scalars(query.with_for_update() if lock else query).first()


def _is_used(row: RefreshToken) -> bool:
    return row.revoked_at is not None or row.replaced_by_id is not None


def _frozen_claims(session: Session, token: str, settings: Settings):
    """The claims of a row-less token issued during a freeze, or None if it is not one."""
    if not looks_like_jwt(token):
        return None
    try:
        claims = decode_frozen_refresh_token(token, settings)
    except InvalidToken as exc:
        reason = "expired" if "expired" in str(exc) else "invalid"
        raise RefreshRejected(f"refresh token {reason}") from None
    if session.get(User, claims.user_id) is None:
        raise RefreshRejected("unknown refresh token")
    return claims


def adopt_frozen_token(session: Session, token: str, settings: Settings) -> RefreshToken | None:
    """The row of a token issued during a freeze, made at its first use (not committed)."""
    claims = _frozen_claims(session, token, settings)
    if claims is None:
        return None
    row = RefreshToken(user_id=claims.user_id, token_hash=hash_refresh_token(token),
                       family_id=claims.family_id, issued_at=claims.issued_at,
                       expires_at=claims.expires_at)
    session.add(row)
    session.flush()
    return row


def check_while_frozen(session: Session, *, token: str, settings: Settings) -> int:
    """The user id a live refresh token belongs to, reading only (the token is not rotated).

    NeedsWrite for a token already used (its session must be revoked, a write).
    """
    row = _find(session, token, lock=False)
    if row is None:
        claims = _frozen_claims(session, token, settings)
        if claims is None:
            raise RefreshRejected("unknown refresh token")
        return claims.user_id
    if _is_used(row):
        raise NeedsWrite("refresh token reused")
    if as_utc(row.expires_at) <= utcnow():
        raise RefreshRejected("refresh token expired")
    return row.user_id


def rotate_refresh_token(session: Session, *, token: str,
                         settings: Settings) -> tuple[str, RefreshToken]:
    """Swap a live token for a new one of the same family (committed).

    Presenting a token that was already rotated or revoked revokes its whole family, since
    someone else may hold a copy; RefreshRejected is raised after that revocation is committed.
    """
    row = _find(session, token, lock=True) or adopt_frozen_token(session, token, settings)
    if row is None:
        raise RefreshRejected("unknown refresh token")
    if _is_used(row):
        revoke_family(session, family_id=row.family_id)
        session.commit()
        raise RefreshRejected("refresh token reused; the session is revoked")
    if as_utc(row.expires_at) <= utcnow():
        raise RefreshRejected("refresh token expired")
    new_token, new_row = issue_refresh_token(session, user_id=row.user_id, settings=settings,
                                             family_id=row.family_id)
    row.replaced_by_id = new_row.id
    row.revoked_at = utcnow()
    session.commit()
    return new_token, new_row


def revoke_refresh_token(session: Session, *, token: str, settings: Settings) -> bool:
    """Log out: revoke the token's family; False when the token is unknown (committed)."""
    try:
        row = _find(session, token, lock=True) or adopt_frozen_token(session, token, settings)
    except RefreshRejected:
        return False
    if row is None:
        return False
    revoke_family(session, family_id=row.family_id)
    session.commit()
    return True
