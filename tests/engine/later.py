"""`Later`: a value known only once a resource exists, as the stack's generated passwords are (pulumi-random).

The engine tests give the providers some inputs through it, as the stack gives them a RandomPassword's result:
on a fresh stack's `preview` such an input is unknown (the provider host hands `check` a
`pulumi.output.Unknown`), at `up` it is the value. The pulumi-random plugin cannot be had on these machines; a
dynamic resource whose output `result` is not one of its inputs is unknown at preview in exactly the same way.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider


class LaterProvider(ResourceProvider):
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("later", {"value": props["value"], "result": props["value"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("value") != news.get("value"), replaces=["value"])


class Later(pulumi.dynamic.Resource, module="engine", name="Later"):
    """`Later(name, value).result`: `value`, unknown until the resource is created (secret like `value`)."""

    result: pulumi.Output[Any]

    def __init__(self, name: str, value: pulumi.Input[Any]) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["value", "result"])
        super().__init__(LaterProvider(), name, {"value": value, "result": None}, secret)
