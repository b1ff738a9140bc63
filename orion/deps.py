"""FastAPI dependencies as Annotated aliases: settings, the job manager, the master, bearer auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orion.guard import UNAUTHORIZED
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
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """A second check behind the Guard's (orion/guard.py), and the bearer scheme in the OpenAPI."""
    given = credentials.credentials.encode() if credentials else b""  # None unless the scheme is Bearer
    if not hmac.compare_digest(given, settings.token.get_secret_value().encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
