"""Users: creation and password authentication."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import User
from app.security import hash_password, verify_password

# verified when the e-mail is unknown, so both failures take the same time
_UNKNOWN_USER_HASH = hash_password("no-such-user-placeholder")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, *, email: str, name: str, password: str,
                is_admin: bool = False) -> User:
    """Add a user with an argon2-hashed password (committed)."""
    user = User(email=normalise_email(email), name=name, password_hash=hash_password(password),
                is_admin=is_admin)
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None."""
    user = session.scalars(
        select(User).where(func.lower(User.email) == normalise_email(email))).first()
    if user is None:
        verify_password(_UNKNOWN_USER_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None
