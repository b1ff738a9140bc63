"""FastAPI dependencies as Annotated aliases: settings, the job manager, the master, bearer auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orion.manager import JobManager
from orion.master import Master
from orion.settings import OrionSettings

_bearer = HTTPBearer(auto_error=False, description="ORION_TOKEN, the stack's generated secret.")


def get_settings(request: Request) -> OrionSettings:
    return request.app.state.settings


def get_manager(request: Request) -> JobManager:
    return request.app.state.manager


def get_master(request: Request) -> Master:
    return request.app.state.master


SettingsDep = Annotated[OrionSettings, Depends(get_settings)]
ManagerDep = Annotated[JobManager, Depends(get_manager)]
MasterDep = Annotated[Master, Depends(get_master)]


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries `Authorization: Bearer <ORION_TOKEN>` (constant-time compare)."""
    expected = settings.token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials and credentials.scheme.lower() == "bearer" else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token: send 'Authorization: Bearer <ORION_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
