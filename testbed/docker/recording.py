"""Pulumi mocks that record every registered resource (`RecordingMocks`: type, name, inputs as the engine would
receive them; `RecordingMonitor`: URN, parent, dependencies, provider), and `run_program`/`run_stack` to run a
program, or the whole one as `__main__.py` does, under them: graph.py's EngineMocks answer as the real providers
would, the unit tests' (tests/components/stack_harness.py) with distinctive fakes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
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


class DynamicCheckFailed(RuntimeError):
    """A dynamic provider's check() refused the inputs, as the engine would at `pulumi preview`/`up`."""


def walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """`value` with every secret unwrapped and `leaf` applied to each scalar."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: walk(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [walk(v, leaf) for v in value]
    return leaf(value)


def as_engine_sends(value: Any) -> Any:
    """A value as the engine hands it to a dynamic provider: every number a float (a protobuf Struct
    carries float64 only), secrets unwrapped (the dynamic provider host does not accept secrets)."""
    return walk(value, lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v)


def plain(value: Any) -> Any:
    """A recorded value with every secret wrapper removed (for assertions on content)."""
    return walk(value, lambda v: v)


def provider_of(props: Mapping[str, Any]) -> Any:
    """The dynamic provider object of a resource's `__provider` input, unpickled as the provider host does."""
    # The pickle the program itself just made (Pulumi's own serialize_provider).
    return dill.loads(base64.b64decode(props[PROVIDER_KEY]))  # noqa: S301


def provider_check(news: dict[str, Any], olds: Mapping[str, Any]) -> tuple[Any, str]:
    """A dynamic provider's check() as the engine runs it (the provider unpickled from `news`): its result and
    what it refused ('' when nothing)."""
    result = provider_of(news).check(olds, news)
    return result, "; ".join(f"{f.property}: {f.reason}" for f in result.failures or [])


def engine_check(args: pulumi.runtime.MockResourceArgs, unknown: frozenset[str] = frozenset()) -> str | None:
    """A dynamic resource's check() on its inputs as the engine sends them, each property named in `unknown`
    the `pulumi.output.Unknown` the provider host hands over during a preview. Returns what it refused, or None."""
    from pulumi.output import Unknown

    news = as_engine_sends(dict(args.inputs))
    _, refused = provider_check(news | {prop: Unknown() for prop in unknown if prop in news}, {})
    when = f" at a fresh stack's preview ({', '.join(sorted(unknown))} unknown)" if unknown else ""
    return f"{args.typ} {args.name}: check failed{when}: {refused}" if refused else None


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; answers with its inputs plus the outputs `answer` computes. Each dynamic provider's
    check() refusal is collected for `run_program` to raise (raised in here, Python 3.11's traceback breaks down)."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.check_failures: list[str] = []

    def answer(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        if args.typ.startswith(DYNAMIC_PREFIX):
            if refused := engine_check(args):
                self.check_failures.append(refused)
        return f"{args.name}-id", {**dict(args.inputs), **self.answer(args)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any] | None]:
        return {}, None


@dataclass(frozen=True)
class Registration:
    """How a resource was registered: dependencies (explicit and implicit), the provider reference
    (`<provider URN>::<id>`), the URNs each input came from."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: frozenset[str]
    provider: str = ""
    property_dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    custom: bool = True


class RecordingMonitor(MockMonitor):
    """The mock engine, also keeping each registration."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type.startswith(DYNAMIC_PREFIX):
            # A fresh stack's preview: an input computed from another resource is not known yet; check() must pass.
            args = next(r for r in reversed(self.mocks.resources) if r.name == request.name)
            from_resources = frozenset(k for k, urns in request.propertyDependencies.items() if urns.urns)
            if from_resources and (refused := engine_check(args, unknown=from_resources)):
                self.mocks.check_failures.append(refused)
        self.registrations.append(self.registration(request, response))
        return response

    def registration(self, request: Any, response: Any) -> Registration:
        per_property = {prop: frozenset(urns.urns) for prop, urns in request.propertyDependencies.items()}
        deps = frozenset(request.dependencies).union(*per_property.values())
        args = (response.urn, request.type, request.name, request.parent, deps, request.provider, per_property)
        return Registration(*args, custom=request.custom)


@dataclass
class Recording:
    """What one program run registered and exported."""

    resources: list[pulumi.runtime.MockResourceArgs]
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)


def _reset_runtime() -> None:
    # A new program run needs a new root stack resource (set_mocks creates one when none exists).
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config({}, [])


def run_program(
    program: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    *,
    mocks: RecordingMocks,
    stack: str = STACK,
    monitor_type: type[RecordingMonitor] = RecordingMonitor,
) -> Recording:
    """Run `program` under `mocks` with `lakehouse:*` config; wait for every registration."""
    _reset_runtime()
    monitor = monitor_type(mocks)
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


def run_stack(config: Mapping[str, str] | None = None, secret_keys: list[str] | None = None, **kw: Any) -> Recording:
    """The whole program, as `__main__.py` runs it (config loaded and validated first); `kw` as run_program's."""
    from components.config import load_stack_config
    from components.lakehouse import deploy

    return run_program(lambda: deploy(load_stack_config()), config, secret_keys, **kw)
