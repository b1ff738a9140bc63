"""Network: the user-defined bridge network every container joins, whose DNS resolves the container names and
aliases the generated configuration refers to (`kafka-1:9092`, `http://minio:9000`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

# The stack prefix (components.containers.docker_name) comes on top of the 63 characters a setting may have.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")


@dataclass(frozen=True)
class NetworkArgs:
    name: str
    """Docker name of the network (Settings.network_name)."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"NetworkArgs.name = {self.name!r} is not allowed: letters, digits, '_', '.', '-', "
                "starting with a letter or digit, at most 255 characters"
            )


class Network(pulumi.ComponentResource):
    """Children: `<name>-bridge`. Containers take its `name` output, so each is created after it, removed before."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Network", name, None, opts)
        self.network = docker.Network(
            f"{name}-bridge",
            name=args.name,
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label="lakehouse.project", value="lakehouse")],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = self.network.name
        self.register_outputs({"name": self.name})
