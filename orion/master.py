"""The Spark standalone master's own JSON API (<ui>/json/): Orion's source of truth for RUNNING."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import requests


@dataclass(frozen=True)
class MasterView:
    """One reading of /json/: applications by id, and the cluster's health."""

    status: str | None
    alive_workers: int | None
    cores: int | None
    cores_used: int | None
    apps: dict[str, str] = field(default_factory=dict)  # app id -> RUNNING, WAITING, FINISHED, KILLED, ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MasterView:
        listed = [*(data.get("completedapps") or []), *(data.get("activeapps") or [])]
        return cls(
            status=data.get("status"),
            alive_workers=data.get("aliveworkers"),
            cores=data.get("cores"),
            cores_used=data.get("coresused"),
            apps={str(app.get("id")): str(app.get("state")) for app in listed},  # active ones last: they win
        )


class MasterUnreachable(Exception):
    pass


class Master(Protocol):
    url: str

    def view(self) -> MasterView: ...


class SparkMaster:
    def __init__(self, ui_url: str) -> None:
        self.url = ui_url.rstrip("/")

    def view(self) -> MasterView:
        try:
            resp = requests.get(f"{self.url}/json/", timeout=3.0)
            resp.raise_for_status()
            return MasterView.from_json(resp.json())
        except (requests.RequestException, ValueError) as exc:
            raise MasterUnreachable(f"Spark master UI {self.url}/json/ did not answer: {exc}") from exc
