"""The program's pulumi-minio resources, created in the S3 stand-in that takes MinIO's place (s3standin.py) with
the provider's root credentials: buckets, users with their secret keys, and each attachment as the SeaweedFS
actions its policies grant (testbed.services.s3.seaweed_actions). An input this module does not know is refused.
Left unproven: MinIO itself and the pulumi-minio plugin (AGPL: never run on these machines, see FACTS.md).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from testbed.docker.graph import Node
from testbed.docker.recording import MINIO_ATTACHMENT, MINIO_BUCKET, MINIO_POLICY, MINIO_PROVIDER, MINIO_USER
from testbed.services.s3 import seaweed_actions

KNOWN = {
    MINIO_PROVIDER: {"minioServer", "minioUser", "minioPassword", "minioRegion", "minioSsl", "version"},
    MINIO_BUCKET: {"bucket", "acl", "forceDestroy"},
    MINIO_USER: {"name", "secret", "forceDestroy"},
    MINIO_POLICY: {"name", "policy"},
    MINIO_ATTACHMENT: {"userName", "policyName"},
}
TYPES = frozenset(KNOWN)


class MinioUnsupported(ValueError):
    """A pulumi-minio input or resource the check does not reproduce."""


def provider_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """A provider resource's inputs as the plugin reads them (the SDK sends `minio_ssl=False` as "false")."""
    out = dict(values)
    if isinstance(out.get("minioSsl"), str):
        try:
            out["minioSsl"] = json.loads(out["minioSsl"])
        except ValueError:
            raise MinioUnsupported(f"pulumi-minio minioSsl = {out['minioSsl']!r} is not true or false") from None
    return out


def check_known(node: Node) -> None:
    if unknown := sorted(set(node.values) - KNOWN[node.type]):
        raise MinioUnsupported(
            f"{node.label}: input(s) {unknown} are not reproduced on the S3 stand-in; known: "
            f"{sorted(KNOWN[node.type])} (teach testbed/docker/minio.py)"
        )
    if node.type == MINIO_BUCKET and node.values.get("acl", "private") != "private":
        raise MinioUnsupported(f"{node.label}: acl {node.values['acl']!r}: only 'private' is reproduced")


@dataclass
class Admin:
    """The stand-in's admin operations the resources need (bound to one provider's endpoint and root keys)."""

    ensure_bucket: Callable[[str], None]
    delete_bucket: Callable[[str, bool], None]
    ensure_user: Callable[[str, str], None]
    set_user_actions: Callable[[str, list[str]], None]
    delete_user: Callable[[str], None]


@dataclass
class Minio:
    """Applies the pulumi-minio nodes of one graph; `admin_for(provider_inputs)` gives the stand-in's operations."""

    admin_for: Callable[[Mapping[str, Any]], Admin]
    providers: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    attached: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> {attachment urn: policy name}
    admins: dict[str, Admin] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def _admin(self, provider: str, label: str) -> Admin:
        if provider not in self.providers:
            raise MinioUnsupported(f"{label}: its provider {provider or '(default)'} was not created first")
        with self._lock:
            if provider not in self.admins:
                self.admins[provider] = self.admin_for(self.providers[provider])
            return self.admins[provider]

    def _grant(self, admin: Admin, user: str) -> None:
        actions: set[str] = set()
        for policy in self.attached.get(user, {}).values():
            if policy not in self.policies:
                raise MinioUnsupported(f"policy {policy!r} attached to {user!r} was never created")
            actions |= set(seaweed_actions(self.policies[policy]))
        admin.set_user_actions(user, sorted(actions))

    def load(self, nodes: list[Node]) -> None:
        """Know the providers, policies and attachments of `nodes` without calling the stand-in (before a teardown)."""
        for node in nodes:
            v = node.values
            if node.type == MINIO_PROVIDER:
                self.providers[node.urn] = provider_config(v)
            elif node.type == MINIO_POLICY:
                self.policies[v["name"]] = json.loads(v["policy"])
            elif node.type == MINIO_ATTACHMENT:
                self.attached.setdefault(v["userName"], {})[node.urn] = v["policyName"]

    def create(self, node: Node) -> None:
        check_known(node)
        v = node.values
        with self._lock:
            self.load([node])
        if node.type == MINIO_PROVIDER:
            self._admin(node.urn, node.label)  # binding the admin checks the endpoint and the root keys
            return
        admin = self._admin(node.provider, node.label)
        with self._lock:
            if node.type == MINIO_BUCKET:
                admin.ensure_bucket(v["bucket"])
            elif node.type == MINIO_USER:
                admin.ensure_user(v["name"], v["secret"])
            elif node.type == MINIO_ATTACHMENT:
                self._grant(admin, v["userName"])

    def delete(self, node: Node) -> None:
        v = node.values
        if node.type == MINIO_PROVIDER:
            return
        admin = self._admin(node.provider, node.label)
        with self._lock:
            if node.type == MINIO_BUCKET:
                admin.delete_bucket(v["bucket"], bool(v.get("forceDestroy", False)))
            elif node.type == MINIO_USER:
                admin.delete_user(v["name"])
            elif node.type == MINIO_POLICY:
                self.policies.pop(v["name"], None)
            elif node.type == MINIO_ATTACHMENT:
                self.attached.get(v["userName"], {}).pop(node.urn, None)
                self._grant(admin, v["userName"])

    def server_answers(self, node: Node) -> bool:
        """Whether the S3 server `node`'s provider talks to still runs (nothing to delete in a removed server)."""
        host, _, port = str(self.providers.get(node.provider, {}).get("minioServer", "")).rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                return True
        except (OSError, ValueError):
            return False
