"""lakehouse.clients.superset_api against a scripted HTTP server on 127.0.0.1 (the real Superset is in
tests/integration): the login/CSRF dance on one session, what an import sends, errors that name Superset, the
URL, what was attempted and the answer, the delete order, bounded retries while Superset starts."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lakehouse.clients.superset_api import SupersetClient, SupersetError, SupersetUnavailable

PASSWORD = "pw-Unit-9f3c"  # pragma: allowlist secret - a unit test's fake
TOKEN = "bearer-abc"
CSRF = "csrf-xyz"


@dataclass
class Script:
    """What the fake Superset answers and what it saw."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    logins_failing: int = 0
    import_status: int = 200
    import_body: str = '{"message": "OK"}'
    objects: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> uuid -> id
    check_csrf: bool = True


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.script.seen.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_POST(self) -> None:
        body, s = self._record(), self.script
        path = urlsplit(self.path).path
        if path == "/api/v1/security/login":
            if s.logins_failing > 0:
                s.logins_failing -= 1
                return self._send(503, "starting")
            creds = json.loads(body)
            if creds["password"] != PASSWORD:
                return self._send(401, '{"message": "Not authorized"}')
            return self._send(200, json.dumps({"access_token": TOKEN}))
        if path == "/api/v1/assets/import/":
            ok = self.headers.get("X-CSRFToken") == CSRF and "session=s1" in (self.headers.get("Cookie") or "")
            if s.check_csrf and not ok:
                return self._send(302, "", {"Location": "/login/"})
            return self._send(s.import_status, s.import_body)
        self._send(404, "{}")

    def do_GET(self) -> None:
        self._record()
        parts = urlsplit(self.path)
        if parts.path == "/api/v1/security/csrf_token/":
            assert self.headers.get("Authorization") == f"Bearer {TOKEN}"
            return self._send(200, json.dumps({"result": CSRF}), {"Set-Cookie": "session=s1; Path=/"})
        kind = parts.path.strip("/").split("/")[-1]
        if kind in ("dashboard", "chart", "dataset", "database"):
            q = parse_qs(parts.query)["q"][0]
            uuid = q.split("value:'", 1)[1].split("'", 1)[0]
            found = self.script.objects.get(kind, {})
            result = [{"id": found[uuid], "uuid": uuid}] if uuid in found else []
            return self._send(200, json.dumps({"result": result, "count": len(result)}))
        self._send(404, "{}")

    def do_DELETE(self) -> None:
        self._record()
        _, _, _, kind, object_id = self.path.split("/")
        found = self.script.objects.get(kind, {})
        for uuid, oid in list(found.items()):
            if str(oid) == object_id:
                del found[uuid]
                return self._send(200, '{"message": "OK"}')
        self._send(404, '{"message": "Not found"}')


@pytest.fixture
def fake() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("H", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_login_takes_a_csrf_token_on_the_same_session_and_import_sends_it(fake: tuple[str, Script]) -> None:
    url, script = fake
    client = SupersetClient.login(url, "admin", PASSWORD)
    client.import_bundle(b"PK-zip-bytes", passwords={"databases/trino.yaml": "x"})
    method, path, headers, body = script.seen[-1]
    assert (method, path) == ("POST", "/api/v1/assets/import/")
    assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["X-CSRFToken"] == CSRF
    assert "session=s1" in headers["Cookie"] and headers["Accept"] == "application/json"
    assert b'name="bundle"; filename="bundle.zip"' in body and b"PK-zip-bytes" in body
    assert b'name="passwords"' in body and b'{"databases/trino.yaml": "x"}' in body


def test_a_redirect_to_login_is_an_error_that_says_so(fake: tuple[str, Script]) -> None:
    url, _ = fake
    client = SupersetClient.login(url, "admin", PASSWORD)
    client.http.headers.pop("X-CSRFToken")
    with pytest.raises(SupersetError) as err:
        client.import_bundle(b"zip", what="importing superset_assets/")
    text = str(err.value)
    assert text.startswith(f"Superset at {url}: importing superset_assets/ (POST /api/v1/assets/import/) failed")
    assert "HTTP 302" in text and "'/login/'" in text and "CSRF" in text


def test_an_import_refused_names_the_url_the_step_and_the_answer(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.import_status, script.import_body = 422, '{"errors": [{"message": "bad chart"}]}'
    client = SupersetClient.login(url, "admin", PASSWORD)
    with pytest.raises(SupersetError) as err:
        client.import_bundle(b"zip")
    assert err.value.status == 422 and not isinstance(err.value, SupersetUnavailable)
    assert f"Superset at {url}" in str(err.value) and "bad chart" in str(err.value)


def test_a_500_on_import_is_final_not_retried(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.import_status, script.import_body = 500, '{"errors": [{"message": "Import failed for an unknown reason"}]}'
    client = SupersetClient.login(url, "admin", PASSWORD)
    with pytest.raises(SupersetError) as err:
        client.import_bundle(b"zip")
    assert not isinstance(err.value, SupersetUnavailable) and "unknown reason" in str(err.value)


def test_an_answer_that_is_not_json_is_an_error(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.import_body = "<html>login</html>"
    client = SupersetClient.login(url, "admin", PASSWORD)
    with pytest.raises(SupersetError, match="not JSON: <html>login</html>"):
        client.import_bundle(b"zip")


def test_a_wrong_password_is_refused_without_echoing_it(fake: tuple[str, Script]) -> None:
    url, _ = fake
    with pytest.raises(SupersetError) as err:
        SupersetClient.login(url, "admin", "Wrong-Secret-123")
    assert "HTTP 401" in str(err.value) and "logging in as 'admin'" in str(err.value)
    assert "Wrong-Secret-123" not in str(err.value)


def test_login_when_ready_waits_while_superset_starts(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.logins_failing = 2
    client = SupersetClient.login_when_ready(url, "admin", PASSWORD, wait_seconds=30, poll_seconds=0.05)
    assert client.http.headers["X-CSRFToken"] == CSRF
    assert [p for m, p, _, _ in script.seen if m == "POST"].count("/api/v1/security/login") == 3


def test_login_when_ready_gives_up_after_its_bound() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(SupersetUnavailable) as err:
        SupersetClient.login_when_ready(f"http://127.0.0.1:{port}", "admin", PASSWORD, wait_seconds=1, poll_seconds=0.1)
    assert f"Superset at http://127.0.0.1:{port}" in str(err.value) and "still failing after 1 s" in str(err.value)


def test_delete_by_uuid_goes_dashboard_chart_dataset_database_and_skips_what_is_gone(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.objects = {"database": {"db-1": 1}, "dataset": {"ds-1": 4}, "chart": {"c-1": 7, "c-2": 8}, "dashboard": {}}
    client = SupersetClient.login(url, "admin", PASSWORD)
    deleted = client.delete_by_uuid(
        {"database": ["db-1"], "dataset": ["ds-1"], "chart": ["c-1", "c-2", "c-gone"], "dashboard": ["d-gone"]}
    )
    assert deleted == {"chart": ["c-1", "c-2"], "dataset": ["ds-1"], "database": ["db-1"]}
    order = [p for m, p, _, _ in script.seen if m == "DELETE"]
    assert order == ["/api/v1/chart/7", "/api/v1/chart/8", "/api/v1/dataset/4", "/api/v1/database/1"]
    assert client.delete_by_uuid({"chart": ["c-1"]}) == {}
