"""A minimal client of Trino's REST protocol (POST /v1/statement, follow nextUri): enough for the test
bed's readiness check and for tests, without another dependency."""

from __future__ import annotations

import time
from typing import Any


class TrinoQueryError(RuntimeError):
    """Trino answered a query with an error; the message has Trino's error name and text."""


def query(
    url: str,
    sql: str,
    *,
    user: str = "testbed",
    catalog: str | None = None,
    schema: str | None = None,
    timeout: float = 120,
) -> list[list[Any]]:
    """Run `sql` and return every row (lists of column values)."""
    import requests

    headers = {"X-Trino-User": user}
    if catalog:
        headers["X-Trino-Catalog"] = catalog
    if schema:
        headers["X-Trino-Schema"] = schema
    deadline = time.monotonic() + timeout
    with requests.Session() as http:
        resp = http.post(f"{url.rstrip('/')}/v1/statement", data=sql.encode(), headers=headers, timeout=30)
        resp.raise_for_status()
        doc = resp.json()
        rows: list[list[Any]] = []
        while True:
            rows.extend(doc.get("data") or [])
            if "error" in doc:
                err = doc["error"]
                raise TrinoQueryError(f"{err.get('errorName')}: {err.get('message')} (query: {sql})")
            nxt = doc.get("nextUri")
            if not nxt:
                return rows
            if time.monotonic() > deadline:
                http.delete(nxt, timeout=5)
                raise TrinoQueryError(f"query did not finish in {timeout:.0f} s: {sql}")
            resp = http.get(nxt, headers=headers, timeout=30)
            if resp.status_code == 503:  # Trino's "busy, ask again"
                time.sleep(0.05)
                continue
            resp.raise_for_status()
            doc = resp.json()
