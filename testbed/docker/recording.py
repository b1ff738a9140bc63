"""Pulumi mocks that record every registered resource, and a runner for whole programs under them.

`RecordingMocks` keeps each `MockResourceArgs` (type, name, inputs as the engine would receive them,
secrets still wrapped); `RecordingMonitor` keeps each registration's URN, parent, dependencies (depends_on
plus the resources whose outputs are inputs), the provider it names and its per-property dependencies.
`run_program` runs a program under them and returns a `Recording`; `run_stack` runs the whole program as
`__main__.py` does.

The unit tests (tests/components/stack_harness.py) and the Docker check (testbed/docker) share this module:
the tests assert on what `pulumi up` would ask Docker/MinIO/Kafka to create, the check creates it. What the
mocks answer for a resource's outputs is `RecordingMocks.answer`: the tests keep the distinctive fakes below,
the check (testbed.docker.graph.EngineMocks) answers as the real providers would.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
from google.protobuf import json_format
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc import unwrap_rpc_secret

PROJECT = "lakehouse"
STACK = "dev"

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
IMAGE = "docker:index/image:Image"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105  # pragma: allowlist secret - a type token
MINIO_PROVIDER = "pulumi:providers:minio"
MINIO_BUCKET = "minio:index/s3Bucket:S3Bucket"
MINIO_USER = "minio:index/iamUser:IamUser"
MINIO_POLICY = "minio:index/iamPolicy:IamPolicy"
MINIO_ATTACHMENT = "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment"
KAFKA_TOPIC = "pulumi-python:dynamic/lakehouse:KafkaTopic"
DYNAMIC_PREFIX = "pulumi-python:dynamic/"


def random_result(name: str, length: int) -> str:
    """What the tests' mocked pulumi-random returns for a password named `name` (distinctive, of its length)."""
    return ("RANDOM" + hashlib.sha512(name.encode()).hexdigest())[:length]


class DynamicCheckFailed(RuntimeError):
    """A dynamic provider's check() refused the inputs, as the engine would at `pulumi preview`/`up`."""


def as_engine_sends(value: Any) -> Any:
    """A value as the engine hands it to a dynamic provider: every number a float (a protobuf Struct
    carries float64 only), secrets unwrapped (the dynamic provider host does not accept secrets)."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_engine_sends(v) for v in value]
    return value


def provider_of(props: Mapping[str, Any]) -> Any:
    """The dynamic provider object of a resource's `__provider` input, unpickled as the provider host does."""
    # The pickle the program itself just made (Pulumi's own serialize_provider).
    return dill.loads(base64.b64decode(props[PROVIDER_KEY]))  # noqa: S301


def engine_check(args: pulumi.runtime.MockResourceArgs, unknown: frozenset[str] = frozenset()) -> str | None:
    """Run a dynamic resource's check() as the engine does: the provider unpickled from its `__provider` input,
    the inputs with numbers as floats, and each property named in `unknown` as the `pulumi.output.Unknown` the
    provider host hands over during a preview. Returns what check refused, or None."""
    from pulumi.output import Unknown

    news = as_engine_sends(dict(args.inputs))
    news |= {prop: Unknown() for prop in unknown if prop in news}
    result = provider_of(news).check({}, news)
    if not result.failures:
        return None
    reasons = "; ".join(f"{f.property}: {f.reason}" for f in result.failures)
    when = f" at a fresh stack's preview ({', '.join(sorted(unknown))} unknown)" if unknown else ""
    return f"{args.typ} {args.name}: check failed{when}: {reasons}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; answers with its inputs plus the outputs `answer` computes.

    Like the engine, it runs each dynamic provider's check() on the inputs as the engine would send them
    (numbers as floats, see `engine_check`); `run_program` then fails with DynamicCheckFailed naming every
    refusal. (Collected, not raised here: an exception raised inside the mock monitor reaches pytest through
    so many asyncio frames that Python 3.11's traceback rendering breaks down.)
    """

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.check_failures: list[str] = []

    def answer(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        """The outputs a provider computes beyond the inputs (distinctive fakes for the unit tests)."""
        if args.typ == RANDOM_PASSWORD:
            return {"result": random_result(args.name, int(args.inputs["length"]))}
        if args.typ == REMOTE_IMAGE:
            return {"imageId": "sha256:" + hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()}
        if args.typ == IMAGE:
            return {"repoDigest": "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()}
        if args.typ == NETWORK:
            return {"name": args.inputs.get("name", args.name)}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        if args.typ.startswith(DYNAMIC_PREFIX):
            refused = engine_check(args)
            if refused:
                self.check_failures.append(refused)
        return f"{args.name}-id", {**dict(args.inputs), **self.answer(args)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any] | None]:
        return {}, None


@dataclass(frozen=True)
class Registration:
    """How a resource was registered: its URN, parent URN, explicit + implicit dependencies, the options the
    engine acts on at replacement, and the outputs the (mock) engine answered with, serialized as the engine
    would keep them in the state (secrets as Pulumi's secret envelopes). `provider` is the provider reference
    it names (`<provider URN>::<id>`, '' for a default provider); `property_dependencies` maps each input to
    the URNs its value came from; `custom` is False for component resources."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: frozenset[str]
    replacement_trigger: Any = None
    delete_before_replace: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    additional_secret_outputs: tuple[str, ...] = ()
    provider: str = ""
    property_dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    custom: bool = True


class RecordingMonitor(MockMonitor):
    """The mock engine, also keeping each registration's parent and dependencies (depends_on and inputs)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type.startswith(DYNAMIC_PREFIX):
            # A fresh stack's preview: every input computed from another resource (a generated password, a
            # container's output) is not known yet. check() must let it through (and check it at `up`).
            args = next(r for r in reversed(self.mocks.resources) if r.name == request.name)
            from_resources = frozenset(k for k, urns in request.propertyDependencies.items() if urns.urns)
            refused = engine_check(args, unknown=from_resources) if from_resources else None
            if refused:
                self.mocks.check_failures.append(refused)
        deps = set(request.dependencies)
        per_property: dict[str, frozenset[str]] = {}
        for prop, urns in request.propertyDependencies.items():
            deps |= set(urns.urns)
            per_property[prop] = frozenset(urns.urns)
        trigger = (
            json_format.MessageToDict(request.replacement_trigger) if request.HasField("replacement_trigger") else None
        )
        self.registrations.append(
            Registration(
                response.urn,
                request.type,
                request.name,
                request.parent,
                frozenset(deps),
                replacement_trigger=trigger,
                delete_before_replace=request.deleteBeforeReplace,
                outputs=json_format.MessageToDict(response.object),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                provider=request.provider,
                property_dependencies=per_property,
                custom=request.custom,
            )
        )
        return response


def plain(value: Any) -> Any:
    """A recorded value with every secret wrapper removed (for assertions on content)."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Recording:
    """What one program run registered and exported."""

    resources: list[pulumi.runtime.MockResourceArgs]
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def urn(self, typ: str, name: str) -> str:
        """URN of the resource of type `typ` with logical name `name`."""
        (found,) = [r.urn for r in self.registrations if r.type == typ and r.name == name]
        return found

    def depends_on(self, typ: str, name: str) -> frozenset[str]:
        """URNs the resource waits for (depends_on and resources whose outputs it takes as inputs)."""
        (found,) = [r.dependencies for r in self.registrations if r.type == typ and r.name == name]
        return found

    def containers(self) -> dict[str, dict[str, Any]]:
        """Container inputs (secrets unwrapped) by hostname (kafka-1, minio, ...: the same in every stack)."""
        return {plain(r.inputs)["hostname"]: plain(r.inputs) for r in self.of_type(CONTAINER)}

    def raw_containers(self) -> dict[str, dict[str, Any]]:
        """Container inputs as recorded (secrets still wrapped), by hostname."""
        return {plain(r.inputs["hostname"]): r.inputs for r in self.of_type(CONTAINER)}

    def docker_names(self, typ: str) -> set[str]:
        """The Docker names (`name` input) of every resource of type `typ` (containers, volumes, networks)."""
        return {plain(r.inputs)["name"] for r in self.of_type(typ)}

    def registration(self, typ: str, name: str) -> Registration:
        (found,) = [r for r in self.registrations if r.type == typ and r.name == name]
        return found

    def env(self, container: str) -> dict[str, str]:
        entries = self.containers()[container].get("envs") or []
        return dict(e.split("=", 1) for e in entries)

    def uploads(self, container: str) -> dict[str, str]:
        return {u["file"]: u["content"] for u in self.containers()[container].get("uploads") or []}


def _reset_runtime() -> None:
    # A new program run needs a new root stack resource (set_mocks creates one when none exists).
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config({}, [])


def run_program(
    program: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: RecordingMocks | None = None,
    stack: str = STACK,
) -> Recording:
    """Run `program` under fresh RecordingMocks with `lakehouse:*` config; wait for every registration.

    Pass `mocks` to inspect what was registered when the program raises (or to answer differently); `stack`
    names the stack.
    """
    _reset_runtime()
    mocks = mocks if mocks is not None else RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    full = {f"{PROJECT}:{k}": str(v) for k, v in (config or {}).items()}
    pulumi.runtime.set_all_config(full, [f"{PROJECT}:{k}" for k in (secret_keys or [])])
    recording = Recording(resources=mocks.resources, registrations=monitor.registrations)
    exported: dict[str, pulumi.Output[Any]] = {}

    @pulumi.runtime.test
    def _run() -> pulumi.Output[Any]:
        exported.update({k: pulumi.Output.from_input(v) for k, v in dict(program() or {}).items()})
        return pulumi.Output.all(*exported.values())

    try:
        _run()
    finally:
        _reset_runtime()
    if mocks.check_failures:
        raise DynamicCheckFailed("; ".join(mocks.check_failures))
    # Every output has resolved by now (the test runner awaited them); read values and secretness.
    for key, output in exported.items():
        data = output._data.result()
        recording.outputs[key] = data.value
        if data.is_secret:
            recording.secret_outputs.add(key)
    return recording


def run_stack(
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: RecordingMocks | None = None,
    stack: str = STACK,
) -> Recording:
    """The whole program, as `__main__.py` runs it (config loaded and validated first)."""
    from components.config import load_stack_config
    from components.lakehouse import deploy

    return run_program(lambda: deploy(load_stack_config()), config, secret_keys, mocks, stack=stack)
