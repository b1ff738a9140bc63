"""The Docker check's pulumi-minio resources (testbed/docker/minio.py), no engine: the program's buckets, users,
policies and attachments applied to a recording stand-in admin, in the graph's order and the reverse."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.docker.graph import EngineMocks, Graph, Node, run_graph
from testbed.docker.minio import TYPES, Admin, Minio, MinioUnsupported, check_known
from testbed.docker.recording import MINIO_BUCKET, run_stack


class FakeStandIn:
    def __init__(self) -> None:
        self.buckets: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.bound: list[dict[str, Any]] = []

    def admin_for(self, provider: Any) -> Admin:
        self.bound.append(dict(provider))
        return Admin(
            ensure_bucket=self.buckets.add,
            delete_bucket=lambda name, force: self.buckets.discard(name),
            ensure_user=lambda name, secret: self.users.setdefault(name, {"secret": secret, "actions": []}),
            set_user_actions=lambda name, actions: self.users[name].update(actions=list(actions)),
            delete_user=lambda name: self.users.pop(name),
        )


def test_the_programs_minio_resources_on_the_stand_in() -> None:
    passwords: dict[str, str] = {}
    graph = Graph.from_recording(
        run_stack(mocks=EngineMocks(lambda tag: "sha256:" + "c" * 64, passwords), stack="dockercheck")
    )
    chosen = [u for u, n in graph.nodes.items() if n.type in TYPES]
    standin = FakeStandIn()
    minio = Minio(standin.admin_for)
    assert not run_graph(graph, minio.create, only=chosen).failures
    # One binding per provider, with the program's root credentials.
    assert [(b["minioServer"], b["minioUser"]) for b in standin.bound] == [("127.0.0.1:9000", "lakehouse-root")]
    assert standin.bound[0]["minioPassword"] == passwords["secrets-minio-root-password"]
    assert standin.bound[0]["minioSsl"] is False  # the SDK sends a provider's bool JSON-encoded: "false"
    assert standin.buckets == {"lake", "checkpoints", "trino-metastore"}
    assert standin.users["lakehouse-spark"]["secret"] == passwords["secrets-spark-s3-secret-key"]
    # The stack's least-privilege policies, as SeaweedFS actions per bucket.
    spark, trino = standin.users["lakehouse-spark"]["actions"], standin.users["lakehouse-trino"]["actions"]
    assert {a.split(":")[1] for a in spark} == {"lake", "checkpoints"}
    assert {a.split(":")[1] for a in trino} == {"lake", "trino-metastore"}
    assert "Write:lake" in spark and "Write:lake" not in trino and "Read:lake" in trino
    # Teardown, the reverse order: nothing left.
    assert not run_graph(graph, minio.delete, only=chosen, reverse=True).failures
    assert standin.buckets == set() and standin.users == {}


def test_an_unknown_minio_input_is_refused() -> None:
    node = Node("u", MINIO_BUCKET, "b", {"bucket": "lake", "objectLocking": True}, frozenset())
    with pytest.raises(MinioUnsupported, match="objectLocking"):
        check_known(node)
    with pytest.raises(MinioUnsupported, match="only 'private'"):
        check_known(Node("u", MINIO_BUCKET, "b", {"bucket": "lake", "acl": "public-read"}, frozenset()))
