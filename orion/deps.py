"""FastAPI dependencies as Annotated aliases: settings, the job manager, the master, bearer auth."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orion.guard import UNAUTHORIZED
from orion.manager import JobManager
from orion.master import Master
from orion.settings import OrionSettings

_bearer = HTTPBearer(auto_error=False, description="ORION_TOKEN, the stack's generated secret.")


def _app_state(name: str) -> Callable[[Request], Any]:
    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[OrionSettings, Depends(_app_state("settings"))]
ManagerDep = Annotated[JobManager, Depends(_app_state("manager"))]
MasterDep = Annotated[Master, Depends(_app_state("master"))]


def require_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """A second check behind the Guard's (orion/guard.py), and the bearer scheme in the OpenAPI."""
    given = credentials.credentials.encode() if credentials else b""  # None unless the scheme is Bearer
    if not hmac.compare_digest(given, settings.token.get_secret_value().encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
