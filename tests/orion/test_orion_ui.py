"""The web UI is served by the app (no build step) and never turns job text into markup."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

STATIC = Path(__file__).resolve().parents[2] / "orion" / "static"


def test_index_is_served_without_token_with_a_strict_csp(client: TestClient) -> None:
    client.headers.pop("Authorization")
    resp = client.get("/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/app.js"' in resp.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


def test_ui_script_never_injects_html() -> None:
    source = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, f"app.js uses {sink}"
    assert "textContent" in source


def test_ui_has_no_inline_script_or_handlers() -> None:
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_ui_keeps_the_token_in_session_storage_only() -> None:
    source = (STATIC / "app.js").read_text()
    assert "sessionStorage" in source and "localStorage" not in source and "document.cookie" not in source
