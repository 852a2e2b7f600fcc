"""Log in, refresh (rotating), log out, and who am I.

While writes are frozen (``app.maintenance``) sign-in keeps working without writing a row: a
login answers a signed refresh token whose row is made at its first use after the freeze, and a
refresh returns a new access token with the same refresh token (no rotation). What would need a
write (log out, revoking a reused token's session) answers 503 with Retry-After.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from app.crud import tokens, users
from app.db import SessionDep
from app.deps import CurrentUser, FreezeDep, SettingsDep, unauthorized
from app.maintenance import refused_while_frozen
from app.models import User
from app.payloads import LoginRequest, RefreshRequest, TokenPair, UserOut
from app.security import create_access_token
from app.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])

UNAUTHORIZED = {401: {"description": "bad credentials or token"}}


def _pair(user_id: int, refresh_token: str, settings: Settings) -> TokenPair:
    return TokenPair(access_token=create_access_token(user_id, settings),
                     refresh_token=refresh_token,
                     expires_in=settings.access_token_minutes * 60)


@router.post("/login", response_model=TokenPair, responses=UNAUTHORIZED)
def login(session: SessionDep, settings: SettingsDep, freeze: FreezeDep,
          credentials: LoginRequest) -> TokenPair:
    """Exchange e-mail and password for an access token and a refresh token."""
    user = users.authenticate(session, email=credentials.email, password=credentials.password)
    if user is None:
        raise unauthorized("incorrect e-mail or password")
    if freeze.enabled:
        return _pair(user.id, tokens.issue_while_frozen(user_id=user.id, settings=settings),
                     settings)
    refresh_token, _row = tokens.issue_refresh_token(session, user_id=user.id, settings=settings)
    session.commit()
    return _pair(user.id, refresh_token, settings)


@router.post("/refresh", response_model=TokenPair, responses=UNAUTHORIZED)
def refresh(session: SessionDep, settings: SettingsDep, freeze: FreezeDep,
            body: RefreshRequest) -> TokenPair:
    """A new token pair for a live refresh token, which is used up (rotation).

    Reusing a token that was already rotated revokes every token of that login and answers 401.
    While frozen the refresh token is not rotated (same one back) and a reuse answers 503.
    """
    if freeze.enabled:
        try:
            user_id = tokens.check_while_frozen(session, token=body.refresh_token,
                                                settings=settings)
        except tokens.NeedsWrite:
            raise refused_while_frozen(freeze) from None
        except tokens.RefreshRejected as exc:
            raise unauthorized(str(exc)) from None
        if session.get(User, user_id) is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="user no longer exists")
        return _pair(user_id, body.refresh_token, settings)
    try:
        refresh_token, row = tokens.rotate_refresh_token(session, token=body.refresh_token,
                                                         settings=settings)
    except tokens.RefreshRejected as exc:
        raise unauthorized(str(exc)) from None
    if session.get(User, row.user_id) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="user no longer exists")
    return _pair(row.user_id, refresh_token, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, settings: SettingsDep, body: RefreshRequest) -> Response:
    """Revoke the refresh token and every token rotated from the same login (503 while frozen)."""
    tokens.revoke_refresh_token(session, token=body.refresh_token, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut, responses=UNAUTHORIZED)
def me(user: CurrentUser):
    """The user the access token belongs to."""
    return user
