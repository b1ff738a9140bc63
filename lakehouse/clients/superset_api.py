"""Superset's REST API as the lakehouse uses it: log in, import an assets bundle, find objects by uuid, read
chart data, delete objects in dependency order.

Superset 6.1.0 needs (FACTS.md) one session with `Accept: application/json` (errors otherwise come back as HTML),
the login's bearer token and a CSRF token taken on the same session; a POST without it is a 302 to /login/, so
redirects are never followed and an answer that is not the JSON expected is an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

KINDS = ("dashboard", "chart", "dataset", "database")
"""The object kinds of a bundle, in the order they are deleted (what uses an object goes before it)."""
IMPORT_PATH = "/api/v1/assets/import/"
_ANSWER_CHARS = 800


class SupersetError(RuntimeError):
    """A call to Superset failed; `status` is the HTTP status (None when Superset did not answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SupersetUnavailable(SupersetError):
    """Superset did not answer, or answered 5xx/502 while starting: worth retrying for a bounded time."""


def _answer(resp: Any) -> str:
    text = (resp.text or "").strip().replace("\n", " ")
    return text[:_ANSWER_CHARS] + ("..." if len(text) > _ANSWER_CHARS else "")


class SupersetClient:
    """A logged-in session on one Superset. Build it with `SupersetClient.login(...)`."""

    def __init__(self, base_url: str, http: Any, *, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout = timeout

    @classmethod
    def login(cls, base_url: str, user: str, password: str, *, timeout: float = 60) -> SupersetClient:
        """Log in as `user` (database authentication) and take a CSRF token on the same session."""
        import requests

        base = base_url.rstrip("/")
        http = requests.Session()
        http.headers["Accept"] = "application/json"
        client = cls(base, http, timeout=timeout)
        body = {"username": user, "password": password, "provider": "db", "refresh": True}
        resp = client.request("POST", "/api/v1/security/login", what=f"logging in as {user!r}", json=body)
        token = resp.json().get("access_token")
        if not token:
            raise SupersetError(f"Superset at {base}: logging in as {user!r} gave no access_token: {_answer(resp)}")
        http.headers["Authorization"] = f"Bearer {token}"
        csrf = client.request("GET", "/api/v1/security/csrf_token/", what="taking a CSRF token").json().get("result")
        if not csrf:
            raise SupersetError(f"Superset at {base}: GET /api/v1/security/csrf_token/ gave no token")
        http.headers["X-CSRFToken"] = csrf
        # Superset's CSRF check over https compares the Referer with the host; harmless over http.
        http.headers["Referer"] = base
        return client

    @classmethod
    def login_when_ready(
        cls,
        base_url: str,
        user: str,
        password: str,
        *,
        wait_seconds: float = 300,
        timeout: float = 60,
        poll_seconds: float = 2,
    ) -> SupersetClient:
        """`login`, retried while Superset is starting (no answer, 5xx), at most `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return cls.login(base_url, user, password, timeout=timeout)
            except SupersetUnavailable as exc:
                if time.monotonic() >= deadline:
                    raise SupersetUnavailable(
                        f"{exc} (still failing after {wait_seconds:.0f} s: is Superset running and healthy?)",
                        exc.status,
                    ) from exc
                time.sleep(poll_seconds)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SupersetClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, what: str, expect: Iterable[int] = (200,), timeout: float | None = None, **kw
    ) -> Any:
        """One call; an unexpected status (a redirect to /login/ included) or a non-JSON answer is a SupersetError."""
        import requests

        url = f"{self.base_url}{path}"
        try:
            resp = self.http.request(method, url, allow_redirects=False, timeout=timeout or self.timeout, **kw)
        except requests.RequestException as exc:
            raise SupersetUnavailable(
                f"Superset at {self.base_url}: {what} ({method} {path}) got no answer: {exc}"
            ) from exc
        expected = tuple(expect)
        if resp.status_code not in expected:
            hint = ""
            if resp.status_code in (301, 302, 303):
                where = resp.headers.get("Location", "")
                hint = f" (a redirect to {where!r}: the session or its CSRF token was not accepted)"
            kind = SupersetUnavailable if resp.status_code >= 500 and resp.status_code != 501 else SupersetError
            if resp.status_code == 500 and path == IMPORT_PATH:
                kind = SupersetError  # an import that fails is rolled back; retrying gives the same answer
            raise kind(
                f"Superset at {self.base_url}: {what} ({method} {path}) failed: HTTP {resp.status_code}"
                f"{hint}: {_answer(resp)}",
                resp.status_code,
            )
        if resp.status_code != 204 and resp.content:
            try:
                resp.json()
            except ValueError as exc:
                raise SupersetError(
                    f"Superset at {self.base_url}: {what} ({method} {path}) answered HTTP {resp.status_code} "
                    f"with something that is not JSON: {_answer(resp)}",
                    resp.status_code,
                ) from exc
        return resp

    def import_bundle(
        self, bundle: bytes, *, passwords: Mapping[str, str] | None = None, what: str = "importing the bundle"
    ) -> None:
        """Import an assets bundle (metadata `type: assets`): databases, datasets, charts and dashboards are all
        created or overwritten, matched by uuid. The first import of a database connects to it (SHOW CATALOGS):
        the database must be reachable, or the whole import is rolled back."""
        files = {"bundle": ("bundle.zip", bundle, "application/zip")}
        data = {"passwords": json.dumps(dict(passwords or {}))}
        resp = self.request("POST", IMPORT_PATH, what=what, files=files, data=data, timeout=max(self.timeout, 300))
        if resp.json().get("message") != "OK":
            raise SupersetError(f"Superset at {self.base_url}: {what} ({IMPORT_PATH}) answered {_answer(resp)}")

    def find(self, kind: str, uuid: str) -> dict[str, Any] | None:
        """{'id': ..., 'uuid': ...} of the object of `kind` with `uuid`, or None when there is none."""
        _check_kind(kind)
        q = f"(filters:!((col:uuid,opr:eq,value:'{uuid}')),columns:!(id,uuid),page_size:10)"
        resp = self.request("GET", f"/api/v1/{kind}/", what=f"looking up {kind} {uuid}", params={"q": q})
        return next((r for r in resp.json().get("result") or [] if str(r.get("uuid")) == uuid), None)

    def ids_by_uuid(self, kind: str, uuids: Iterable[str]) -> dict[str, int]:
        """uuid -> id of each object of `kind` among `uuids` that exists."""
        hits = {uuid: self.find(kind, uuid) for uuid in uuids}
        return {uuid: int(hit["id"]) for uuid, hit in hits.items() if hit is not None}

    def get(self, kind: str, object_id: int) -> dict[str, Any]:
        _check_kind(kind)
        return self.request("GET", f"/api/v1/{kind}/{object_id}", what=f"reading {kind} {object_id}").json()["result"]

    def delete(self, kind: str, object_id: int) -> bool:
        """Delete one object; False when it was already gone."""
        _check_kind(kind)
        path, what = f"/api/v1/{kind}/{object_id}", f"deleting {kind} {object_id}"
        return self.request("DELETE", path, what=what, expect=(200, 204, 404)).status_code != 404

    def delete_by_uuid(self, uuids_by_kind: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
        """Delete the objects named by uuid, dashboards first, then charts, datasets and databases (a database
        that still has datasets answers 422). Returns kind -> uuids actually deleted; missing ones are skipped."""
        deleted: dict[str, list[str]] = {}
        for kind in KINDS:
            for uuid, object_id in self.ids_by_uuid(kind, uuids_by_kind.get(kind) or ()).items():
                if self.delete(kind, object_id):
                    deleted.setdefault(kind, []).append(uuid)
        return deleted

    def chart_data(self, chart_id: int, *, force: bool = False) -> dict[str, Any]:
        """GET /api/v1/chart/<id>/data/: runs the chart's saved query_context."""
        params = {"format": "json", "type": "full", "force": "true" if force else "false"}
        path, what = f"/api/v1/chart/{chart_id}/data/", f"reading the data of chart {chart_id}"
        return self.request("GET", path, what=what, params=params, timeout=max(self.timeout, 180)).json()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Superset object kind {kind!r} is not one of {KINDS}")
