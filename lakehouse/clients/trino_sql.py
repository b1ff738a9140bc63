"""A minimal client of Trino's REST protocol (POST /v1/statement, follow nextUri), without another dependency."""

from __future__ import annotations

import time
from typing import Any


class TrinoQueryError(RuntimeError):
    """Trino answered a statement with an error. `error_name` is Trino's (e.g. TABLE_NOT_FOUND)."""

    def __init__(self, message: str, error_name: str = "", error_message: str = "") -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_message = error_message


class TrinoUnavailable(TrinoQueryError):
    """Trino did not answer (connection refused, HTTP 5xx): worth retrying while it starts."""


def query(
    url: str,
    sql: str,
    *,
    user: str = "lakehouse",
    catalog: str | None = None,
    schema: str | None = None,
    timeout: float = 120,
) -> list[list[Any]]:
    """Run `sql` and return every row (lists of column values)."""
    import requests

    base = url.rstrip("/")
    headers = {"X-Trino-User": user}
    if catalog:
        headers["X-Trino-Catalog"] = catalog
    if schema:
        headers["X-Trino-Schema"] = schema
    deadline = time.monotonic() + timeout
    with requests.Session() as http:
        try:
            resp = http.post(f"{base}/v1/statement", data=sql.encode(), headers=headers, timeout=30)
        except requests.RequestException as exc:
            raise TrinoUnavailable(
                f"Trino at {base} did not answer POST /v1/statement ({exc}); statement: {sql}"
            ) from exc
        _raise_for_status(resp, base, sql)
        doc = resp.json()
        rows: list[list[Any]] = []
        while True:
            rows.extend(doc.get("data") or [])
            if "error" in doc:
                err = doc["error"]
                name, text = str(err.get("errorName", "")), str(err.get("message", ""))
                raise TrinoQueryError(
                    f"Trino at {base} refused the statement: {name}: {text} (statement: {sql})", name, text
                )
            nxt = doc.get("nextUri")
            if not nxt:
                return rows
            if time.monotonic() > deadline:
                http.delete(nxt, timeout=5)
                raise TrinoQueryError(f"Trino at {base}: the statement did not finish in {timeout:.0f} s: {sql}")
            try:
                resp = http.get(nxt, headers=headers, timeout=30)
            except requests.RequestException as exc:
                raise TrinoUnavailable(f"Trino at {base} stopped answering ({exc}); statement: {sql}") from exc
            if resp.status_code == 503:  # Trino's "busy, ask again"
                time.sleep(0.05)
                continue
            _raise_for_status(resp, base, sql)
            doc = resp.json()


def _raise_for_status(resp: Any, base: str, sql: str) -> None:
    if resp.status_code < 400:
        return
    kind = TrinoUnavailable if resp.status_code >= 500 else TrinoQueryError
    raise kind(f"Trino at {base} answered HTTP {resp.status_code}: {resp.text[:500]} (statement: {sql})")
