"""Request dependencies: the app's settings and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.db import SessionDep
from app.maintenance import NOT_FROZEN, MaintenanceStatus
from app.models import User
from app.payloads import MAX_ID
from app.security import InvalidToken, decode_access_token
from app.settings import Settings

bearer_scheme = HTTPBearer(auto_error=False, description="an access token from /auth/login")


def get_app_settings(request: Request) -> Settings:
    """The settings the running app was built with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_freeze(request: Request) -> MaintenanceStatus:
    """The freeze flag as the maintenance gate read it for this request."""
    return getattr(request.state, "maintenance", NOT_FROZEN)


FreezeDep = Annotated[MaintenanceStatus, Depends(get_freeze)]


def unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    """The user named by a valid Bearer access token; 401 otherwise."""
    if credentials is None:
        raise unauthorized()
    try:
        user_id = decode_access_token(credentials.credentials, settings)
    except InvalidToken:
        raise unauthorized("invalid or expired token") from None
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise unauthorized("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_admin(user: CurrentUser) -> User:
    """The current user if an administrator; 403 otherwise."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="administrators only")
    return user


AdminUser = Annotated[User, Depends(get_current_admin)]
