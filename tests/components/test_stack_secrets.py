"""No secret value in plain text: not in any container's env, upload or command, nor in any input or output.

The variant stack gets distinctive secret values through `pulumi config set --secret`; the default stack
generates them (the mocked pulumi-random answers distinctive values). Every recorded input of every
resource is scanned: a secret value may only appear inside a Pulumi secret. Each scan also proves it
found the values inside secrets, so it cannot pass by scanning nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime.rpc import is_rpc_secret
from stack_harness import RANDOM_PASSWORD, SECRET_CONFIG, Recording, plain, random_result

from components.config import SECRET_LENGTHS
from components.secrets import SPECS
from lakehouse import endpoints
from lakehouse.settings import SECRET_KEYS


def scan(value: Any, secrets: set[str], path: str, leaks: list[str], protected: set[str]) -> None:
    """Collect paths where a secret value appears outside a secret wrapper; note those found inside one."""
    if is_rpc_secret(value):
        text = repr(plain(value))
        protected.update(s for s in secrets if s in text)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            scan(v, secrets, f"{path}.{k}", leaks, protected)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            scan(v, secrets, f"{path}[{i}]", leaks, protected)
    elif isinstance(value, str):
        leaks.extend(f"{path} contains a secret value" for s in secrets if s in value)


def leaks_in(stack: Recording, secrets: set[str]) -> tuple[list[str], set[str]]:
    leaks: list[str] = []
    protected: set[str] = set()
    for r in stack.resources:
        if r.typ == RANDOM_PASSWORD:
            continue  # its inputs are length and character classes, never the value
        scan(r.inputs, secrets, f"{r.typ}::{r.name}", leaks, protected)
    return leaks, protected


def test_secrets_set_in_config_never_appear_in_plain_text(variant_stack: Recording) -> None:
    secrets = set(SECRET_CONFIG.values())
    leaks, protected = leaks_in(variant_stack, secrets)
    assert leaks == []
    # Each one did reach the resources that need it - as a secret.
    assert protected == secrets


def test_generated_secrets_never_appear_in_plain_text(default_stack: Recording) -> None:
    generated = {random_result(r.name, int(r.inputs["length"])) for r in default_stack.of_type(RANDOM_PASSWORD)}
    assert len(generated) == len(SECRET_KEYS)
    leaks, protected = leaks_in(default_stack, generated)
    assert leaks == []
    assert protected == generated


def test_container_envs_holding_secrets_are_secret_as_a_whole(stack: Recording) -> None:
    raw = stack.raw_containers()
    for name in ("minio", "spark-orion", "trino", "superset", "spark-worker-1"):
        assert is_rpc_secret(raw[name]["envs"]), f"{name}'s env carries a secret but is not marked secret"
    for name in ("kafka-1", "spark-master"):
        assert not is_rpc_secret(raw[name]["envs"]), f"{name}'s env has no secret; it should stay readable"
    for name, inputs in raw.items():
        for key in ("uploads", "command"):
            assert not is_rpc_secret(inputs.get(key)), f"{name}.{key} was given a secret"


def test_secret_outputs_are_secret_and_public_outputs_hold_no_secret(variant_stack: Recording) -> None:
    assert variant_stack.secret_outputs == set(endpoints.SECRET_KEYS)
    assert variant_stack.outputs["orion_token"] == SECRET_CONFIG["orionToken"]
    assert variant_stack.outputs["s3_secret_key"] == SECRET_CONFIG["sparkS3SecretKey"]
    assert variant_stack.outputs["superset_admin_password"] == SECRET_CONFIG["supersetAdminPassword"]
    for key in endpoints.PUBLIC_KEYS:
        for secret in SECRET_CONFIG.values():
            assert secret not in str(variant_stack.outputs[key]), key


def test_every_secret_key_is_generated_when_not_set(default_stack: Recording) -> None:
    names = sorted(r.name for r in default_stack.of_type(RANDOM_PASSWORD))
    assert names == sorted(
        [
            "secrets-minio-root-password",
            "secrets-spark-s3-secret-key",
            "secrets-trino-s3-secret-key",
            "secrets-superset-secret-key",
            "secrets-superset-admin-password",
            "secrets-orion-token",
        ]
    )
    for r in default_stack.of_type(RANDOM_PASSWORD):
        assert r.inputs["special"] is False, f"{r.name} would generate characters that need escaping"


def test_generated_lengths_fit_the_rules_for_set_values() -> None:
    assert set(SPECS) == set(SECRET_KEYS) == set(SECRET_LENGTHS)
    for key, spec in SPECS.items():
        low, high = SECRET_LENGTHS[key]
        assert low <= spec.length <= high, key


def test_user_set_secret_is_used_instead_of_a_generated_one() -> None:
    from stack_harness import run_stack

    token = "my-own-orion-token-123456"
    st = run_stack({"orionToken": token}, secret_keys=["orionToken"])
    assert len(st.of_type(RANDOM_PASSWORD)) == len(SECRET_KEYS) - 1
    assert st.env("spark-orion")["ORION_TOKEN"] == token
    assert st.outputs["orion_token"] == token
    assert "orion_token" in st.secret_outputs
    leaks, protected = leaks_in(st, {token})
    assert leaks == []
    assert protected == {token}


# ----- every secret of every config, generated and set, in every recorded input and output -----

# Two mixed configurations: each secret key is set in one and generated in the other, once per Kafka mode, so
# together with the default (all generated, KRaft) and the variant (all set, ZooKeeper) every secret is seen
# both ways in both modes.
_KEYS = sorted(SECRET_CONFIG)
MIXED = [
    ({"kafkaMode": "zookeeper"}, _KEYS[::2]),
    ({"kafkaBrokers": "5", "publishSparkMasterRpc": "true"}, _KEYS[1::2]),
]


def secret_values(stack: Recording, set_keys: list[str]) -> dict[str, str]:
    """Every secret value of a run by where it comes from: those set in config and those generated."""
    values = {f"set:{k}": SECRET_CONFIG[k] for k in set_keys}
    values |= {
        f"generated:{r.name}": random_result(r.name, int(r.inputs["length"])) for r in stack.of_type(RANDOM_PASSWORD)
    }
    return values


def scan_everything(stack: Recording, secrets: set[str]) -> tuple[list[str], set[str]]:
    """Every resource's inputs and every output the engine answered with (as it would keep them in the state),
    and the stack outputs: leaks, and the secrets found inside secret envelopes."""
    leaks, protected = leaks_in(stack, secrets)
    by_urn = {r.urn: r for r in stack.registrations}
    for reg in by_urn.values():
        outputs = dict(reg.outputs)
        # The engine keeps these outputs secret whatever the provider returns (additionalSecretOutputs: see
        # test_generated_values_are_secret_outputs_of_their_resources); the mocks echo them in plain.
        for key in reg.additional_secret_outputs:
            outputs.pop(key, None)
        scan(outputs, secrets, f"outputs of {reg.type}::{reg.name}", leaks, protected)
    for key, value in stack.outputs.items():
        if key in stack.secret_outputs:
            protected.update(s for s in secrets if s in repr(value))
        else:
            leaks.extend(f"stack output {key} contains a secret value" for s in secrets if s in repr(value))
    return leaks, protected


@pytest.mark.parametrize(("config", "set_keys"), MIXED, ids=["zookeeper-even-keys-set", "kraft5-odd-keys-set"])
def test_no_secret_of_a_mixed_config_appears_in_plain_text(config: dict[str, str], set_keys: list[str]) -> None:
    from stack_harness import run_stack

    stack = run_stack({**config, **{k: SECRET_CONFIG[k] for k in set_keys}}, secret_keys=set_keys)
    values = secret_values(stack, set_keys)
    assert len(values) == len(SECRET_KEYS), sorted(values)
    leaks, protected = scan_everything(stack, set(values.values()))
    assert leaks == []
    assert protected == set(values.values()), (
        f"never seen: {sorted(k for k, v in values.items() if v not in protected)}"
    )


def test_no_secret_in_any_output_of_the_default_and_variant_stacks(
    default_stack: Recording, variant_stack: Recording
) -> None:
    for stack, set_keys in ((default_stack, []), (variant_stack, _KEYS)):
        values = secret_values(stack, set_keys)
        assert len(values) == len(SECRET_KEYS)
        leaks, protected = scan_everything(stack, set(values.values()))
        assert leaks == []
        assert protected == set(values.values())


def test_generated_values_are_secret_outputs_of_their_resources(default_stack: Recording) -> None:
    for reg in default_stack.registrations:
        if reg.type == RANDOM_PASSWORD:
            assert "result" in reg.additional_secret_outputs, reg.name
    users = [r for r in default_stack.registrations if r.type == "minio:index/iamUser:IamUser"]
    assert users and all("secret" in r.additional_secret_outputs for r in users)


def test_the_output_scan_finds_a_plain_secret() -> None:
    """The scan itself can fail: a secret in a plain output is reported, one inside an envelope is not."""
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    leaks: list[str] = []
    protected: set[str] = set()
    scan(
        {"a": "x-SECRET-y", "b": {_special_sig_key: _special_secret_sig, "value": "z-OTHER"}},
        {"SECRET", "OTHER"},
        "t",
        leaks,
        protected,
    )
    assert leaks == ["t.a contains a secret value"]
    assert protected == {"OTHER"}
