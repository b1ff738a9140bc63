"""The stand-in images and the project's images on a real Docker engine (testbed/docker/images.py), and the pure
parts behind them (cache keys, build contexts, the S3 stand-in's input checks, images/spark/python_jars.py).

The tests marked `docker` run short-lived containers of each image and check the contract the stack relies on
(components/*.py): users and uids, paths, tools, entrypoints and commands, a Kafka broker formatting and starting
on the stack's own server.properties and command, Trino answering SELECT 1 behind the stack's probe, the Spark
image's Python importing delta.tables and a Spark master passing the stack's probe, the S3 stand-in's health URL,
root login, users created live with their AccessDenied outside their buckets. Every container they start is
removed (with its anonymous volumes) whatever happens. The first of them builds the images (minutes on a cold
machine, nothing when they are cached). Without an engine: fail in CI, skip elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import secrets
import shutil
import sys
import tarfile
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.versions import load
from testbed.docker import images, recipes, rootfs, s3standin
from tests.docker.engine_session import session as engine_session

ROOT = Path(__file__).resolve().parents[2]
TEST_LABEL = "lakehouse.test"
docker = pytest.mark.docker
# The first docker test builds the images inside its fixture: a cold machine needs minutes for that.
slow = pytest.mark.timeout(3600)


# ============================================================================ pure parts (no engine)


def _recipe(tmp: Path, **kw: Any) -> recipes.Recipe:
    base: dict[str, Any] = {
        "name": "ctx",
        "tag": "x/y:1",
        "dockerfile": "Dockerfile",
        "buildargs": {"A": "1"},
        "identity": {"artifact": "kafka-4.4.0-abc"},
        "context_dir": tmp,
    }
    base.update(kw)
    return recipes.Recipe(**base)


def test_image_hash_is_stable_and_follows_every_input(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "f.txt").write_text("one")
    first = recipes.image_hash(_recipe(tmp_path))
    assert recipes.image_hash(_recipe(tmp_path)) == first
    changed = {
        "build arg": recipes.image_hash(_recipe(tmp_path, buildargs={"A": "2"})),
        "artifact key": recipes.image_hash(_recipe(tmp_path, identity={"artifact": "kafka-4.4.0-def"})),
        "tag": recipes.image_hash(_recipe(tmp_path, tag="x/y:2")),
    }
    (tmp_path / "f.txt").write_text("two")
    changed["context file"] = recipes.image_hash(_recipe(tmp_path))
    (tmp_path / "f.txt").write_text("one")
    (tmp_path / "f.txt").chmod(0o755)
    changed["executable bit"] = recipes.image_hash(_recipe(tmp_path))
    assert all(h != first for h in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_image_hash_ignores_what_dockerignore_keeps_out(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("*\n!keep.txt\n")
    (tmp_path / "keep.txt").write_text("k")
    first = recipes.image_hash(_recipe(tmp_path))
    (tmp_path / "ignored.txt").write_text("anything")
    assert recipes.image_hash(_recipe(tmp_path)) == first
    (tmp_path / "keep.txt").write_text("k2")
    assert recipes.image_hash(_recipe(tmp_path)) != first


def test_spark_context_sends_exactly_what_the_dockerfile_copies() -> None:
    files = recipes.context_files(ROOT, "images/spark/Dockerfile")
    assert "images/spark/python_jars.py" in files and "images/spark/jars/pom.xml" in files
    assert "requirements-services.txt" in files and "images/spark/Dockerfile" in files
    tops = {f.split("/")[0] for f in files}
    assert tops == {".dockerignore", "contract", "images", "jobs", "orion", "producer", "requirements-services.txt"}, (
        tops
    )
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_standin_hash_follows_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "Dockerfile").write_text("FROM x\n")
    monkeypatch.setattr(recipes, "STANDINS", tmp_path)
    r = _recipe(tmp_path, name="kafka", context_dir=None, files={"libs": tmp_path})
    first = recipes.image_hash(r)
    (tmp_path / "kafka" / "run").write_text("#!/bin/sh\n")
    assert recipes.image_hash(r) != first


def test_rootfs_key_follows_packages_and_ca_certificates(tmp_path: Path) -> None:
    ca = tmp_path / "a.crt"
    ca.write_text("cert one")
    key = rootfs.rootfs_key(["ca-certificates"], [ca])
    assert key == rootfs.rootfs_key(["ca-certificates", "ca-certificates"], [ca])
    assert rootfs.rootfs_key(["ca-certificates", "curl"], [ca]) != key
    assert rootfs.rootfs_key(["ca-certificates"], []) != key
    ca.write_text("cert two")
    assert rootfs.rootfs_key(["ca-certificates"], [ca]) != key
    assert rootfs.rootfs_key(["ca-certificates"], [ca], suite="trixie") != rootfs.rootfs_key(["ca-certificates"], [ca])


def test_mmdebstrap_puts_the_ca_certificates_in_before_any_package(tmp_path: Path) -> None:
    ca = tmp_path / "egress.crt"
    ca.write_text("x")
    argv = rootfs.mmdebstrap_argv(["ca-certificates"], [ca], tmp_path / "out.tar")
    assert argv[0] == "mmdebstrap" and argv[-2:] == [rootfs.SUITE, str(tmp_path / "out.tar")]
    copy = next(a for a in argv if a.startswith("--setup-hook=copy-in"))
    assert str(ca) in copy and copy.endswith(f"{rootfs.CA_DIR}/")
    assert "--include=ca-certificates" in argv and f"--variant={rootfs.VARIANT}" in argv
    # The no-cache apt configuration comes last (a customize hook): mmdebstrap itself needs the package files.
    assert any(a.startswith("--customize-hook=") and "Keep-Downloaded-Packages" in a for a in argv)
    assert not any(a.startswith("--aptopt=") and "Keep-Downloaded-Packages" in a for a in argv)


def test_project_images_have_the_names_the_stack_gives_them() -> None:
    from components import spark as spark_component
    from components import superset as superset_component

    v = load()
    spark = recipes.project_recipe("lakehouse-spark", v, "sha256:base")
    superset = recipes.project_recipe("lakehouse-superset", v, "sha256:base")
    assert spark.tag == f"{spark_component.IMAGE_NAME}:{v.spark_build_args()['SPARK_VERSION']}"
    assert superset.tag == f"{superset_component.IMAGE_NAME}:{v.superset_image.rpartition(':')[2]}"
    assert spark.dockerfile == spark_component.DOCKERFILE and spark.context_dir == ROOT
    assert superset.context_dir == ROOT / superset_component.CONTEXT and superset.dockerfile == "Dockerfile"
    assert spark.buildargs == v.spark_build_args() and superset.buildargs == v.superset_build_args()
    # Built FROM the stand-ins: a new stand-in makes a new project image.
    assert recipes.image_hash(spark) != recipes.image_hash(recipes.project_recipe("lakehouse-spark", v, "sha256:other"))


def test_every_image_is_built_once_in_a_lane_after_its_base() -> None:
    names = [n for lane in images.LANES for n in lane]
    assert sorted(names) == sorted(recipes.ALL_NAMES)
    for project, base in recipes.PROJECT_BASES.items():
        lane = next(lane for lane in images.LANES if project in lane)
        assert base in lane and lane.index(base) < lane.index(project), (project, base)
    assert set(recipes.STANDIN_RECIPES) == {p.name for p in recipes.STANDINS.iterdir() if p.is_dir()}


def test_each_standin_dockerfile_names_its_official_image_and_what_differs() -> None:
    v = load()
    official = {"kafka": v.kafka_image, "spark": v.spark_image, "trino": v.trino_image, "superset": v.superset_image}
    official["s3"] = v.minio_image
    assert set(official) == set(recipes.STANDIN_RECIPES)
    for name, image in official.items():
        text = (recipes.STANDINS / name / "Dockerfile").read_text()
        repository = image.rpartition(":")[0]
        assert text.startswith(f"# Stand-in for {repository}:"), f"standins/{name}/Dockerfile must name {repository}"
        assert "What differs from" in text, f"standins/{name}/Dockerfile must say what differs from {repository}"
        assert text.count("FROM ${BASE_IMAGE}") == 1 and "ARG BASE_IMAGE" in text, name


def test_s3_standin_refuses_what_weed_shell_would_misread() -> None:
    assert s3standin.check_actions(["Write:lake", "Read:lake", "Read:lake", "List:lake/tables"]) == [
        "List:lake/tables",
        "Read:lake",
        "Write:lake",
    ]
    for bad in (["Delete:lake"], ["Read:Lake"], ["Read:lake,Write:lake"], ["Read:lake with space"]):
        with pytest.raises(ValueError, match="not allowed"):
            s3standin.check_actions(bad)
    for bad in ("short", "has space in it", 'quote"inside', "back\\slash", "apos'trophe"):
        with pytest.raises(ValueError, match="secret key"):
            s3standin.check_secret(bad)
    s3standin.check_secret("Aa0+/=~!#%&()[]{}-_.")
    for bad in ("ab", "-leading", "has space", "x" * 129):
        with pytest.raises(ValueError, match="not allowed"):
            s3standin.check_user(bad)
    with pytest.raises(ValueError, match="bucket name"):
        s3standin.check_bucket("Upper")


def test_s3_standin_never_shows_a_secret_key() -> None:
    # pragma: allowlist nextline secret - a fake secret in a redaction test
    out = '{"identities":[{"name":"u","credentials":[{"accessKey":"u","secretKey":"s3cr3t-value"}]}]} also s3cr3t-value'
    shown = s3standin._redact(out, ["s3cr3t-value"])
    assert "s3cr3t-value" not in shown and '"secretKey":"***"' in shown
    assert "other-secret" not in s3standin._redact('"secretKey" : "other-secret"', [])


def _python_jars() -> Any:
    spec = importlib.util.spec_from_file_location("python_jars", ROOT / "images" / "spark" / "python_jars.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jar(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_python_jars_lists_the_jars_that_carry_python_packages(tmp_path: Path) -> None:
    pj = _python_jars()
    jars, site = tmp_path / "jars", tmp_path / "site-packages"
    jars.mkdir()
    site.mkdir()
    _jar(jars / "delta-spark_4.2_2.13-4.4.0.jar", {"delta/__init__.py": "", "delta/tables.py": "X = 1\n"})
    _jar(jars / "hadoop-aws-3.5.0.jar", {"org/apache/Foo.class": ""})
    _jar(jars / "other-1.0.jar", {"pkg/__init__.py": "", "pkg/sub/__init__.py": ""})
    pth = pj.write_pth(site, jars)
    assert pth == site / "lakehouse-jars.pth"
    listed = [line for line in pth.read_text().splitlines() if not line.startswith("#")]
    assert listed == [str((jars / "delta-spark_4.2_2.13-4.4.0.jar").resolve()), str((jars / "other-1.0.jar").resolve())]


def test_python_jars_fails_clearly_without_the_delta_jar(tmp_path: Path) -> None:
    pj = _python_jars()
    (tmp_path / "jars").mkdir()
    _jar(tmp_path / "jars" / "hadoop-aws-3.5.0.jar", {"org/apache/Foo.class": ""})
    with pytest.raises(SystemExit, match=r"'delta'.*delta-spark.*hadoop-aws-3\.5\.0\.jar"):
        pj.write_pth(tmp_path, tmp_path / "jars")
    assert not (tmp_path / "lakehouse-jars.pth").exists()


FAKE_ENGINE = r"""
import json, os, signal, socketserver, sys
from http.server import BaseHTTPRequestHandler

sock = next(a.split("unix://", 1)[1] for a in sys.argv[1:] if a.startswith("unix://"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"OK" if self.path.endswith("_ping") else json.dumps(
            {"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "fake-engine"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("local", 0)


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
Server(sock, Handler).serve_forever()
"""


def test_engine_starts_a_dockerd_when_none_answers_and_stops_only_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start/record/stop logic against a stand-in `dockerd` (a small HTTP server on a unix socket, named
    dockerd in its process's argv): a real second dockerd would reconfigure the machine's bridge network."""
    from testbed.docker import engine

    fake = tmp_path / "fake_engine.py"
    fake.write_text(FAKE_ENGINE)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dockerd").write_text(f'#!/bin/bash\nexec -a dockerd "{sys.executable}" "{fake}" "$@"\n')
    (bin_dir / "dockerd").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(engine.os, "geteuid", lambda: 0)
    root = Path(tempfile.mkdtemp(prefix="lhd-", dir="/tmp"))  # a unix socket path has at most 107 bytes
    sock = str(root / "d.sock")
    state = tmp_path / "cache" / "docker" / "dockerd.json"
    try:
        with engine_session(socket_path=sock) as eng:
            assert eng.started_here and eng.pid and eng.api_version == "1.41", eng
            pid = eng.pid
            assert engine._recorded_pid() == pid and json.loads(state.read_text())["socket"] == sock
            again = engine.connect(start=False, socket_path=sock)
            assert not again.started_here and again.pid == pid
            recorded = state.read_text()
            # A record that does not name a running dockerd on its own socket is never acted on.
            state.write_text(json.dumps({"pid": os.getpid(), "socket": sock}))
            assert engine.stop() is False and not state.exists()
            state.write_text(json.dumps({"pid": pid, "socket": "/elsewhere.sock"}))
            assert engine.stop() is False and engine._is_dockerd(pid, sock)
            state.write_text(recorded)
        assert not engine._is_dockerd(pid) and not state.exists()
        assert engine.stop() is False
        with pytest.raises(engine.EngineError, match="no Docker engine answers"):
            engine.connect(start=False, socket_path=sock)
    finally:
        with contextlib.suppress(Exception):
            engine.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_engine_refuses_to_start_dockerd_without_root_or_docker_io(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testbed.docker import engine

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path / "cache"))
    sock = str(tmp_path / "none.sock")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dockerd on it
    with pytest.raises(engine.EngineError, match=r"apt-get install -y docker\.io"):
        engine.connect(socket_path=sock)
    (tmp_path / "dockerd").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "dockerd").chmod(0o755)
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    with pytest.raises(engine.EngineError, match="needs root"):
        engine.connect(socket_path=sock)


# ============================================================================ on the engine


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from testbed import session
    from testbed.docker import engine

    try:
        eng_cm = engine_session(echo=lambda line: print(f"[docker] {line}", flush=True))
        eng = eng_cm.__enter__()
    except engine.EngineError as exc:
        if session.in_ci():
            pytest.fail(f"the Docker check needs an engine: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    try:
        images.ensure_images(eng.client, load(), echo=lambda line: print(f"[images] {line}", flush=True))
        yield eng.client
    finally:
        eng_cm.__exit__(None, None, None)


@contextlib.contextmanager
def container(
    client: Any, image: str, command: list[str] | None = None, *, files: dict[str, str] | None = None, **kw: Any
) -> Iterator[Any]:
    """A container of `image` (files uploaded before it starts, as the stack's uploads are), removed afterwards
    with its anonymous volumes."""
    c = client.containers.create(
        image, command, name=f"lh-standin-test-{uuid.uuid4().hex[:8]}", labels={TEST_LABEL: "standins"}, **kw
    )
    try:
        if files:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for path, text in files.items():
                    data = text.encode()
                    info = tarfile.TarInfo(path.lstrip("/"))
                    info.size, info.mode = len(data), 0o644
                    tar.addfile(info, io.BytesIO(data))
            assert c.put_archive("/", buf.getvalue())
        c.start()
        yield c
    finally:
        with contextlib.suppress(Exception):
            c.remove(force=True, v=True)


def users(c: Any) -> dict[str, list[str]]:
    """User name -> its actions (sorted); no keys."""
    return {name: sorted(i.get("actions") or []) for name, i in s3standin.identities(c).items()}


def buckets(endpoint: s3standin.Endpoint) -> list[str]:
    return sorted(b["Name"] for b in endpoint.s3().list_buckets().get("Buckets") or [])


def run(client: Any, image: str, script: str) -> str:
    """Output of a short-lived container running `bash -c script` (through the image's entrypoint); it must succeed."""
    code, out, err = images.run_once(client, image, ["bash", "-c", script])
    assert code == 0, f"{image}: `{script}` exited {code}: {err[-2000:]}"
    return out.strip()


def sh(c: Any, cmd: list[str] | str, **kw: Any) -> tuple[int, str]:
    code, out = c.exec_run(cmd, **kw)
    return code, out.decode(errors="replace").strip()


def wait_until(check: Callable[[], bool], what: str, c: Any, timeout: float = 300.0) -> float:
    """Seconds until `check()` holds; a container that exits or a bound that passes fails with its log's end."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        c.reload()
        if c.status not in ("created", "running"):
            pytest.fail(f"{what}: {c.name} is {c.status}:\n{c.logs(tail=40).decode(errors='replace')}")
        time.sleep(2)
    pytest.fail(f"{what}: not within {timeout:.0f} s:\n{c.logs(tail=40).decode(errors='replace')}")


def published(c: Any, port: str) -> int:
    c.reload()
    return int(c.attrs["NetworkSettings"]["Ports"][port][0]["HostPort"])


# ---------------------------------------------------------------------------- Kafka


@docker
@slow
def test_kafka_standin_layout(client: Any) -> None:
    v = load()
    out = run(
        client,
        v.kafka_image,
        "id -un; id -u; echo $BASH_VERSION; stat -c %U /var/lib/kafka/data; "
        "ls /opt/kafka/bin; java -version 2>&1 | head -1",
    )
    user, uid, bash, owner, *rest = out.splitlines()
    assert (user, uid, owner) == ("appuser", "1000", "appuser")
    assert bash.startswith("5.")
    assert {"kafka-storage.sh", "kafka-server-start.sh"} <= set(rest)
    assert client.images.get(v.kafka_image).attrs["Config"]["Cmd"] == ["/etc/kafka/docker/run"]


@docker
@slow
def test_kafka_broker_formats_and_starts_on_the_stacks_properties_and_command(client: Any) -> None:
    from components import kafka as k
    from lakehouse.generators.kafka import broker_probe_script, heap_opts, kraft_cluster_id

    v = load()
    args = k.KafkaClusterArgs(
        network_name="n",
        mode="kraft",
        brokers=1,
        image=v.kafka_image,
        cluster_id=kraft_cluster_id("standin-test"),
        host_port_base=29092,
        bind_address="127.0.0.1",
        heap="512m",
        topic="events",
        partitions=1,
        controllers=1,
    )
    with container(
        client,
        v.kafka_image,
        k.broker_command("kraft", args.cluster_id),
        files={k.SERVER_PROPERTIES: args.server_properties()["kafka-1"]},
        hostname="kafka-1",
        environment={"KAFKA_HEAP_OPTS": heap_opts("512m")},
        mem_limit="1g",
    ) as c:
        probe = ["bash", "-c", broker_probe_script(k.INTERNAL_PORT)]
        wait_until(lambda: sh(c, probe)[0] == 0, "the stack's broker probe", c, timeout=240)
        code, out = sh(c, ["bash", "-c", f"ls {k.LOG_DIR}; stat -c %U {k.LOG_DIR}/meta.properties"])
        assert code == 0 and "meta.properties" in out and out.endswith("appuser"), out
        # A restart formats nothing (--ignore-formatted) and the broker comes back on its data.
        c.restart(timeout=60)
        wait_until(lambda: sh(c, probe)[0] == 0, "the broker after a restart", c, timeout=240)
        assert "already formatted" in c.logs().decode(errors="replace").lower()


# ---------------------------------------------------------------------------- Spark


@docker
@slow
def test_spark_standin_layout(client: Any) -> None:
    v = load()
    out = run(
        client,
        v.spark_image,
        "id -un; id -u; pwd; echo $SPARK_HOME; ls /opt/spark/python/lib; test -x /opt/spark/bin/spark-class && "
        "test -x /opt/spark/bin/spark-submit && echo bin-ok; java --list-modules | grep -c jdk.incubator.vector; "
        "python3 -m pip --version >/dev/null && echo pip-ok; test -x /usr/bin/tini && echo tini-ok",
    )
    user, uid, cwd, home, *rest = out.splitlines()
    assert (user, uid, cwd, home) == ("spark", "185", "/opt/spark/work-dir", "/opt/spark")
    assert any(x.startswith("py4j-") for x in rest) and "pyspark.zip" in rest
    assert {"bin-ok", "1", "pip-ok", "tini-ok"} <= set(rest), rest
    config = client.images.get(v.spark_image).attrs["Config"]
    assert config["Entrypoint"] == ["/opt/entrypoint.sh"] and config["User"] == "spark"
    # The official entrypoint's Kubernetes modes are not reproduced, and say so.
    code, _, err = images.run_once(client, v.spark_image, ["driver"])
    assert code == 2 and "not reproduced" in err, (code, err)


@docker
@slow
def test_spark_image_imports_delta_tables_from_the_jar(client: Any) -> None:
    where = images.check_spark_image(client, recipes.project_recipe("lakehouse-spark", load(), "-").tag)
    assert where.startswith("/opt/lakehouse/jars/delta-spark_") and where.endswith("/delta/tables.py")


@docker
@slow
def test_spark_master_passes_the_stacks_probe(client: Any) -> None:
    from components import containers as cc
    from components import spark as s

    tag = recipes.project_recipe("lakehouse-spark", load(), "-").tag
    command = [
        f"{s.SPARK_HOME}/bin/spark-class",
        "org.apache.spark.deploy.master.Master",
        "--host",
        s.MASTER_HOST,
        "--port",
        str(s.MASTER_PORT),
        "--webui-port",
        str(s.MASTER_UI_PORT),
    ]
    env = s.spark_env(daemon_memory="256m", hostname=s.MASTER_HOST)
    probe = cc.http_probe(f"http://localhost:{s.MASTER_UI_PORT}/json/", python=s.PYTHON, json_field=("status", "ALIVE"))
    with container(client, tag, command, hostname=s.MASTER_HOST, environment=env, mem_limit="1g") as c:
        wait_until(lambda: sh(c, probe[1:])[0] == 0, "the stack's Spark master probe", c, timeout=240)
        code, out = sh(c, [s.PYTHON, "-c", "import sys, fastapi, kafka, orion; print(sys.version_info[:2])"])
        assert code == 0 and out == "(3, 11)", out


# ---------------------------------------------------------------------------- Trino


@docker
@slow
def test_trino_standin_layout(client: Any) -> None:
    v = load()
    out = run(
        client,
        v.trino_image,
        "id -un; id -u; stat -c %U /data/trino /etc/trino; echo $BASH_VERSION; java -version 2>&1 | head -1; "
        "command -v curl",
    )
    user, uid, data_owner, etc_owner, bash, java, curl = out.splitlines()
    assert (user, uid, data_owner, etc_owner) == ("trino", "1000", "trino", "trino")
    assert bash.startswith("5.") and curl.endswith("/curl")
    assert int(java.split('"')[1].split(".")[0]) >= 24, java
    assert client.images.get(v.trino_image).attrs["Config"]["Cmd"] == ["/usr/lib/trino/bin/run-trino"]


@docker
@slow
def test_trino_answers_select_1_on_the_stacks_etc_files(client: Any) -> None:
    from components import trino as t
    from lakehouse.generators.s3 import S3Endpoint
    from lakehouse.generators.trino import ACCESS_KEY_ENV, SECRET_KEY_ENV

    v = load()
    args = t.TrinoArgs(
        network_name="n",
        image=v.trino_image,
        s3=S3Endpoint(url="http://minio:9000", region="us-east-1", path_style=True),
        metastore_bucket="metastore",
        s3_access_key="k",
        s3_secret_key="s",
        heap="1g",
        bind_address="127.0.0.1",
        host_port=28080,
    )
    env = {ACCESS_KEY_ENV: "standin-test-key", SECRET_KEY_ENV: secrets.token_urlsafe(16)}
    with container(
        client, v.trino_image, files=args.files(), hostname=t.HOSTNAME, environment=env, mem_limit="2g"
    ) as c:
        probe = t.health_probe()[1:]
        waited = wait_until(lambda: sh(c, probe)[0] == 0, "the stack's Trino probe (SELECT 1)", c, timeout=600)
        print(f"Trino answered SELECT 1 after {waited:.0f} s")
        code, out = sh(c, ["/usr/lib/trino/bin/health-check"])
        assert code == 0, out


# ---------------------------------------------------------------------------- Superset


@docker
@slow
def test_superset_standin_and_project_image_layout(client: Any) -> None:
    v = load()
    script = (
        "id -un; id -u; pwd; echo $HOME; command -v superset gunicorn uv python; python -V; "
        "test -e /app/.venv/bin/pip && echo has-pip || echo no-pip"
    )
    out = run(client, v.superset_image, script)
    user, uid, cwd, home, superset, gunicorn, uv, python, version, pip = out.splitlines()
    assert (user, uid, cwd, home) == ("superset", "1000", "/app", "/app/superset_home")
    assert (superset, gunicorn, python) == (
        "/app/.venv/bin/superset",
        "/app/.venv/bin/gunicorn",
        "/app/.venv/bin/python",
    )
    assert uv and version.startswith("Python 3.11") and pip == "no-pip"
    config = client.images.get(v.superset_image).attrs["Config"]
    assert config["Cmd"] == ["/app/docker/entrypoints/run-server.sh"] and config["User"] == "superset"
    tag = recipes.project_recipe("lakehouse-superset", v, "-").tag
    assert run(client, tag, 'python -c "import trino.sqlalchemy; print(1)"') == "1"


# ---------------------------------------------------------------------------- S3 (pgsty/silo's place)

ROOT_USER = "lakehouse-root"
ROOT_PASSWORD = secrets.token_urlsafe(18)
"""A fresh root password per run (the S3 stand-in's MINIO_ROOT_PASSWORD)."""


@pytest.fixture(scope="module")
def s3(client: Any) -> Iterator[tuple[Any, s3standin.Endpoint]]:
    """The S3 stand-in as the stack runs it: its command, root user, region, ports published on loopback."""
    from components import storage as st

    v = load()
    command = ["server", st.DATA_DIR, "--address", f":{st.API_PORT}", "--console-address", f":{st.CONSOLE_PORT}"]
    env = {"MINIO_ROOT_USER": ROOT_USER, "MINIO_ROOT_PASSWORD": ROOT_PASSWORD, "MINIO_SITE_REGION": "us-east-1"}
    ports = {f"{st.API_PORT}/tcp": ("127.0.0.1", None), f"{st.CONSOLE_PORT}/tcp": ("127.0.0.1", None)}
    with container(client, v.minio_image, command, environment=env, ports=ports, hostname=st.HOSTNAME) as c:
        probe = ["sh", "-c", st.HEALTH_PROBE]
        wait_until(lambda: sh(c, probe)[0] == 0, "the stack's S3 health probe", c, timeout=120)
        port = published(c, f"{st.API_PORT}/tcp")
        yield c, s3standin.Endpoint(f"http://127.0.0.1:{port}", ROOT_USER, ROOT_PASSWORD)


@docker
@slow
def test_s3_standin_health_console_and_root_login(client: Any, s3: tuple[Any, s3standin.Endpoint]) -> None:
    import httpx
    from botocore.exceptions import ClientError

    c, ep = s3
    for path in ("/minio/health/live", "/minio/health/ready", "/minio/health/cluster"):
        assert httpx.get(ep.url + path, timeout=10).status_code == 200, path
    assert httpx.head(ep.url + "/minio/health/ready", timeout=10).status_code == 200
    console = published(c, "9001/tcp")
    assert httpx.get(f"http://127.0.0.1:{console}/", timeout=10).status_code == 200
    s3standin.create_bucket(ep, "lake")
    s3standin.create_bucket(ep, "lake")  # again: nothing to do
    assert "lake" in buckets(ep)
    wrong = s3standin.Endpoint(ep.url, ROOT_USER, "not-the-password")
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        wrong.s3().list_buckets()
    # MinIO's bucket semantics: no bucket made by a PUT, no deletion of a non-empty bucket without force.
    with pytest.raises(ClientError, match="NoSuchBucket"):
        ep.s3().put_object(Bucket="not-there", Key="k", Body=b"x")
    s3standin.create_bucket(ep, "scratch")
    ep.s3().put_object(Bucket="scratch", Key="a/b", Body=b"x")
    with pytest.raises(s3standin.StandInError, match="BucketNotEmpty"):
        s3standin.delete_bucket(ep, "scratch")
    s3standin.delete_bucket(ep, "scratch", force=True)
    assert "scratch" not in buckets(ep)


@docker
@slow
def test_s3_standin_users_get_exactly_their_policys_buckets(client: Any, s3: tuple[Any, s3standin.Endpoint]) -> None:
    from botocore.exceptions import ClientError

    from lakehouse.generators.s3_policies import spark_policy
    from testbed.services.s3 import seaweed_actions

    c, ep = s3
    for b in ("lake", "checkpoints", "metastore"):
        s3standin.create_bucket(ep, b)
    actions = seaweed_actions(spark_policy(lake_bucket="lake", checkpoint_bucket="checkpoints"))
    s3standin.ensure_user(c, "lakehouse-spark", "spark-secret-1")
    s3standin.set_user_actions(c, "lakehouse-spark", actions)
    assert users(c)["lakehouse-spark"] == sorted(actions)
    spark = s3standin.Endpoint(ep.url, "lakehouse-spark", "spark-secret-1").s3()
    spark.put_object(Bucket="lake", Key="t/part-0", Body=b"row")
    assert spark.get_object(Bucket="lake", Key="t/part-0")["Body"].read() == b"row"
    assert [b["Name"] for b in spark.list_buckets()["Buckets"]] == ["checkpoints", "lake"]
    for denied in (
        lambda: spark.put_object(Bucket="metastore", Key="x", Body=b"x"),
        lambda: spark.list_objects_v2(Bucket="metastore"),
        lambda: spark.create_bucket(Bucket="newbucket"),
    ):
        with pytest.raises(ClientError, match="AccessDenied"):
            denied()
    # Fewer actions: the write is refused now, the read still works.
    s3standin.set_user_actions(c, "lakehouse-spark", ["List:lake", "Read:lake"])
    with pytest.raises(ClientError, match="AccessDenied"):
        spark.put_object(Bucket="lake", Key="t/part-1", Body=b"row")
    assert spark.get_object(Bucket="lake", Key="t/part-0")["Body"].read() == b"row"
    # A new secret replaces the old one.
    s3standin.ensure_user(c, "lakehouse-spark", "spark-secret-2")
    with pytest.raises(ClientError, match=r"SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied"):
        spark.list_objects_v2(Bucket="lake")
    rotated = s3standin.Endpoint(ep.url, "lakehouse-spark", "spark-secret-2").s3()
    assert rotated.list_objects_v2(Bucket="lake")["KeyCount"] == 1
    s3standin.delete_user(c, "lakehouse-spark")
    s3standin.delete_user(c, "lakehouse-spark")  # again: nothing to do
    assert "lakehouse-spark" not in users(c)
    with pytest.raises(ClientError, match=r"InvalidAccessKeyId|AccessDenied"):
        rotated.list_objects_v2(Bucket="lake")
    with pytest.raises(s3standin.StandInError, match="root identity"):
        s3standin.ensure_user(c, ROOT_USER, "another-password")


@docker
@slow
def test_s3_standin_shell_failures_are_errors_without_secrets(client: Any, s3: tuple[Any, s3standin.Endpoint]) -> None:
    c, _ = s3
    for commands in (["no.such.command"], ["s3.bucket.delete -name not-there"]):
        with pytest.raises(s3standin.StandInError, match="weed shell"):
            s3standin.weed_shell(c, commands)
    # An unknown flag: weed shell prints the usage and exits 0; still an error, and the secret is not in it.
    with pytest.raises(s3standin.StandInError, match="weed shell") as failed:
        s3standin.weed_shell(
            c, ["s3.configure -user=x -secret_key=top-secret-99 -no-such-flag=1"], secrets=["top-secret-99"]
        )
    assert "top-secret-99" not in str(failed.value) and "***" in str(failed.value)


@docker
@slow
def test_s3_admin_binds_to_the_standin_of_a_pulumi_minio_provider(
    client: Any, s3: tuple[Any, s3standin.Endpoint]
) -> None:
    c, ep = s3
    provider = {
        "minioServer": ep.url.removeprefix("http://"),
        "minioUser": ROOT_USER,
        "minioPassword": ROOT_PASSWORD,
        "minioRegion": "us-east-1",
        "minioSsl": False,
    }
    admin = s3standin.admin(client, provider)
    admin.ensure_bucket("bound")
    admin.ensure_user("lakehouse-trino", "trino-secret-1")
    admin.set_user_actions("lakehouse-trino", ["List:bound", "Read:bound"])
    assert users(c)["lakehouse-trino"] == ["List:bound", "Read:bound"]
    admin.delete_user("lakehouse-trino")
    admin.delete_bucket("bound", False)
    with pytest.raises(s3standin.StandInError, match="root credentials"):
        s3standin.admin(client, {**provider, "minioPassword": ROOT_PASSWORD[::-1]})


@docker
@slow
def test_s3_standin_refuses_to_start_without_root_credentials(client: Any) -> None:
    v = load()
    with container(client, v.minio_image, ["server", "/data"]) as c:
        code = c.wait(timeout=60)["StatusCode"]
        assert code == 2
        assert "MINIO_ROOT_USER must be set" in c.logs().decode()
