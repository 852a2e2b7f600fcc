"""Refresh tokens: issue, rotate (with family revocation on reuse) and revoke."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import RefreshToken, utcnow
from app.payloads import as_utc
from app.security import hash_refresh_token, new_refresh_token
from app.settings import Settings


class RefreshRejected(Exception):
    """The refresh token is unknown, expired, revoked or already used."""


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


def revoke_family(session: Session, *, family_id: str) -> None:
    """Revoke every token of one login session (not yet revoked ones)."""
    session.execute(update(RefreshToken)
                    .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


def _find_locked(session: Session, token: str) -> RefreshToken | None:
    return session.scalars(select(RefreshToken)
                           .where(RefreshToken.token_hash == hash_refresh_token(token))
                           .with_for_update()).first()


def rotate_refresh_token(session: Session, *, token: str,
                         settings: Settings) -> tuple[str, RefreshToken]:
    """Swap a live token for a new one of the same family (committed).

    Presenting a token that was already rotated or revoked revokes its whole family, since
    someone else may hold a copy; RefreshRejected is raised after that revocation is committed.
    """
    row = _find_locked(session, token)
    if row is None:
        raise RefreshRejected("unknown refresh token")
    if row.revoked_at is not None or row.replaced_by_id is not None:
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


def revoke_refresh_token(session: Session, *, token: str) -> bool:
    """Log out: revoke the token's family; False when the token is unknown (committed)."""
    row = _find_locked(session, token)
    if row is None:
        return False
    revoke_family(session, family_id=row.family_id)
    session.commit()
    return True
