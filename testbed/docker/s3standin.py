"""The S3 stand-in (standins/s3: SeaweedFS in MinIO's place), administered live as pulumi-minio administers MinIO:
buckets through the S3 API with the root credentials; users (access key = name, a secret key, SeaweedFS actions
such as `Read:lake`) through `weed shell`'s `s3.configure ... -apply` in the container. `admin()` binds these to
the stand-in publishing a provider's `minioServer`. weed shell's output holds secret keys: redacted before shown.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from testbed.docker import Echo
from testbed.docker.images import ROLE_LABEL

SHELL = ["s3-standin-shell"]  # `weed shell` against the stand-in's own master (a script in the image)
ROLE = "s3"
API_PORT = "9000/tcp"
SHELL_TIMEOUT = 120.0
APPLY_WAIT = 30.0  # seconds a change may take to reach the S3 gateway (~1 s here)

ACTION_WORDS = ("Admin", "Read", "Write", "List", "Tagging")
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_ACTION = re.compile(rf"^({'|'.join(ACTION_WORDS)})(:{_BUCKET}(/[^\s,]*)?)?$")
_BUCKET_NAME = re.compile(rf"^{_BUCKET}$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]{2,127}$")
_SECRET = re.compile(r"^[!#-&(-\[\]-~]{8,128}$")  # no spaces, quotes or backslashes: weed shell splits on them
_SHELL_FAILURE = re.compile(r"^\s*(error:|unknown command|flag provided but not defined|Usage of )", re.M | re.I)


class StandInError(RuntimeError):
    """An operation on the S3 stand-in failed; the message names it and what the stand-in said (redacted)."""


def _redact(text: str, secrets: Iterable[str]) -> str:
    for s in filter(None, secrets):
        text = text.replace(s, "***")
    # weed shell prints identities with their keys: never show a secretKey, whoever it belongs to.
    return re.sub(r'("secretKey"\s*:\s*)"[^"]*"', r'\1"***"', text)


def check_user(name: str) -> None:
    if not _USER.match(name or ""):
        raise ValueError(
            f"S3 stand-in user {name!r} is not allowed: 3-128 characters, letters, digits and ._@+=- (the access key)"
        )


def check_secret(secret: str) -> None:
    if not _SECRET.match(secret or ""):
        raise ValueError(
            "an S3 stand-in secret key must be 8-128 printable ASCII characters without spaces, quotes or "
            "backslashes (weed shell splits its command line on spaces)"
        )


def check_actions(actions: Iterable[str]) -> list[str]:
    """The actions sorted and deduplicated; a word or bucket SeaweedFS would not understand is an error."""
    out = sorted(set(actions))
    if bad := [a for a in out if not _ACTION.match(a)]:
        raise ValueError(
            f"S3 stand-in actions {bad} are not allowed: one of {list(ACTION_WORDS)}, alone or as "
            "`Word:bucket` / `Word:bucket/prefix`"
        )
    return out


def check_bucket(name: str) -> None:
    if not _BUCKET_NAME.match(name or "") or ".." in name:
        raise ValueError(f"S3 bucket name {name!r} is not allowed: 3-63 lower-case letters, digits, '.' and '-'")


def _exec_stdin(container: Any, argv: list[str], data: bytes, timeout: float) -> tuple[int, str, str]:
    """Run `argv` in the container with `data` on its stdin; (exit code, stdout, stderr)."""
    from docker.utils.socket import frames_iter

    api = container.client.api
    ex = api.exec_create(container.id, argv, stdin=True, stdout=True, stderr=True)
    sock = api.exec_start(ex["Id"], socket=True)
    raw = getattr(sock, "_sock", sock)
    out, err = bytearray(), bytearray()
    try:
        raw.settimeout(timeout)
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)
        for stream, chunk in frames_iter(sock, tty=False):
            (out if stream == 1 else err).extend(chunk)
    except OSError as exc:
        raise StandInError(f"{' '.join(argv)} in {container.name}: no answer within {timeout:.0f} s ({exc})") from exc
    finally:
        sock.close()
    deadline = time.monotonic() + 10
    while (info := api.exec_inspect(ex["Id"])).get("Running") and time.monotonic() < deadline:
        time.sleep(0.1)
    code = info.get("ExitCode")
    return (code if isinstance(code, int) else -1), out.decode(errors="replace"), err.decode(errors="replace")


def weed_shell(container: Any, commands: list[str], *, secrets: Iterable[str] = ()) -> str:
    """Run `weed shell` commands in the stand-in (one session, commands on stdin); returns its stdout (which may
    hold secret keys)."""
    secrets = list(secrets)
    code, out, err = _exec_stdin(container, SHELL, ("\n".join(commands) + "\n").encode(), SHELL_TIMEOUT)
    said = _redact(f"{out}\n{err}".strip(), secrets)
    # weed shell exits 0 after an "error: ..." line or an unknown flag (printing the usage): failures too.
    if code != 0 or _SHELL_FAILURE.search(out + err):
        shown = [_redact(c, secrets) for c in commands]
        raise StandInError(f"weed shell in {container.name} failed (exit {code}) on {shown}:\n{said[-3000:]}")
    return out


def identities(container: Any) -> dict[str, dict[str, Any]]:
    """Every identity of the stand-in by name, as `s3.configure` prints it (credentials included)."""
    output = weed_shell(container, ["s3.configure"])
    start, end = output.find("{"), output.rfind("}")
    if start < 0 or end < start:
        raise StandInError(f"weed shell printed no configuration: {_redact(output, [])[-2000:]}")
    try:
        config = json.loads(output[start : end + 1])
    except ValueError as exc:
        raise StandInError(f"weed shell printed an unreadable configuration: {exc}") from exc
    return {i["name"]: i for i in config.get("identities") or []}


def _change_user(
    container: Any,
    current: dict[str, Any] | None,
    name: str,
    commands: list[str],
    applied: Callable[[dict | None], bool],
    what: str,
    secrets: Iterable[str] = (),
) -> None:
    """Run `commands` on the user `name` (never the root identity) and wait until `applied(identity)` holds.

    Nothing to change writes nothing: as pulumi-minio on an unchanged user, a second `up` must not touch a live
    identity (the gateway reloads its identities on every write, under the running job)."""
    if current and current.get("isStatic"):
        raise StandInError(
            f"{name!r} is the stand-in's root identity (from MINIO_ROOT_USER): it is not changed through weed shell"
        )
    if applied(current):
        return
    weed_shell(container, commands, secrets=secrets)
    deadline = time.monotonic() + APPLY_WAIT
    while not applied(identities(container).get(name)):
        if time.monotonic() > deadline:
            raise StandInError(f"S3 stand-in user {name!r}: {what} was not applied within {APPLY_WAIT:.0f} s")
        time.sleep(0.5)


def ensure_user(container: Any, name: str, secret: str) -> None:
    """The user `name` exists with exactly one credential: access key `name`, secret `secret` (a new secret
    replaces the old one; its actions stay as they are)."""
    check_user(name)
    check_secret(secret)
    current = identities(container).get(name)
    keys = sorted(c.get("accessKey", "") for c in (current or {}).get("credentials") or [])
    commands = [f"s3.configure -user={name} -access_key={name} -secret_key={secret} -apply"]
    commands += [f"s3.configure -user={name} -access_key={key} -delete -apply" for key in keys if key != name]

    def done(i: dict[str, Any] | None) -> bool:
        creds = (i or {}).get("credentials") or []
        return len(creds) == 1 and creds[0].get("accessKey") == name and creds[0].get("secretKey") == secret

    _change_user(container, current, name, commands, done, "its credential", [secret])


def set_user_actions(container: Any, name: str, actions: Iterable[str]) -> None:
    """The user `name` (which must exist) may do exactly `actions` (SeaweedFS words: `Read:lake`, ...)."""
    check_user(name)
    wanted = check_actions(actions)
    current = identities(container).get(name)
    if current is None:
        raise StandInError(f"S3 stand-in user {name!r} does not exist: create it first (ensure_user)")
    have = set(current.get("actions") or [])
    commands = []
    if add := sorted(set(wanted) - have):
        commands.append(f"s3.configure -user={name} -actions={','.join(add)} -apply")
    if drop := sorted(have - set(wanted)):
        commands.append(f"s3.configure -user={name} -actions={','.join(drop)} -delete -apply")
    _change_user(
        container, current, name, commands, lambda i: sorted((i or {}).get("actions") or []) == wanted, "its actions"
    )


def delete_user(container: Any, name: str) -> None:
    check_user(name)
    current = identities(container).get(name)
    _change_user(
        container, current, name, [f"s3.configure -user={name} -delete -apply"], lambda i: i is None, "its removal"
    )


@dataclass(frozen=True)
class Endpoint:
    """Where the stand-in's S3 API answers and the root credentials (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)."""

    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def target(self) -> Any:
        """The stack's BucketContents client's view of it (root credentials)."""
        from lakehouse.clients.bucket_contents import S3Target

        return S3Target(self.url, self.region, self.access_key, self.secret_key)

    def s3(self) -> Any:
        """A path-style S3 client with the root credentials."""
        return self.target().client()


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__))


def create_bucket(endpoint: Endpoint, name: str) -> None:
    from botocore.exceptions import ClientError

    check_bucket(name)
    s3 = endpoint.s3()
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise StandInError(f"HeadBucket {name} on {endpoint.url}: {_code(exc)}") from exc
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise StandInError(f"CreateBucket {name} on {endpoint.url}: {_code(exc)}") from exc


def delete_bucket(endpoint: Endpoint, name: str, force: bool = False) -> None:
    """Delete the bucket `name`; with `force` its objects (and unfinished uploads) first, as pulumi-minio's
    force_destroy does. Without it a non-empty bucket is an error (BucketNotEmpty). A missing bucket is fine."""
    from botocore.exceptions import ClientError

    from lakehouse.clients.bucket_contents import empty_bucket

    check_bucket(name)
    if force:
        empty_bucket(endpoint.target(), name)
    try:
        endpoint.s3().delete_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return
        raise StandInError(f"deleting bucket {name} on {endpoint.url}: {_code(exc)}") from exc


def admin(client: Any, provider: Mapping[str, Any], echo: Echo | None = None) -> Any:
    """testbed/docker/minio.py's Admin for a pulumi-minio provider's inputs, bound to the running stand-in that
    publishes its `minioServer` (host:port) after its root credentials pass a ListBuckets call."""
    from testbed.docker.minio import Admin

    server = str(provider["minioServer"])
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"S3 stand-in server {server!r} is not host:port")
    if provider.get("minioSsl"):
        raise StandInError("pulumi-minio provider with minioSsl=true: the S3 stand-in serves plain http only")
    found = [
        c
        for c in client.containers.list(filters={"label": f"{ROLE_LABEL}={ROLE}"})
        for binding in (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(API_PORT) or []
        if str(binding.get("HostPort")) == port
    ]
    if len(found) != 1:
        raise StandInError(
            f"{len(found)} running S3 stand-in containers (label {ROLE_LABEL}={ROLE}) publish {API_PORT} on host "
            f"port {port} ({', '.join(c.name for c in found) or 'none'}): exactly one is needed"
        )
    container = found[0]
    region = str(provider.get("minioRegion") or "us-east-1")
    endpoint = Endpoint(f"http://{host}:{port}", str(provider["minioUser"]), str(provider["minioPassword"]), region)
    try:
        endpoint.s3().list_buckets()
    except Exception as exc:
        raise StandInError(f"the root credentials do not work on the S3 stand-in at {server}: {_code(exc)}") from exc
    if echo:
        echo(f"S3 stand-in {container.name} at {endpoint.url}: root credentials accepted")
    return Admin(
        ensure_bucket=lambda name: create_bucket(endpoint, name),
        delete_bucket=lambda name, force: delete_bucket(endpoint, name, force),
        ensure_user=lambda name, secret: ensure_user(container, name, secret),
        set_user_actions=lambda name, actions: set_user_actions(container, name, actions),
        delete_user=lambda name: delete_user(container, name),
    )
