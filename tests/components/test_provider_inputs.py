"""The helpers every dynamic provider shares: the engine's numbers, unknowns, the code hash, changed inputs."""

from __future__ import annotations

from pathlib import Path

from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN, wrap_rpc_secret

from components.providers import inputs


def test_integral_floats_become_ints_and_nothing_else_changes() -> None:
    props = {"n": 3.0, "x": 3.5, "s": "3", "b": True, "none": None}
    assert inputs.with_ints(props, ["n", "x", "s", "b", "none", "absent"]) == {
        "n": 3, "x": 3.5, "s": "3", "b": True, "none": None,
    }  # fmt: skip
    assert type(inputs.with_ints(props, ["n"])["n"]) is int
    assert props["n"] == 3.0  # a copy: the engine's dict is left alone


def test_failures_of_unknown_values_wait_for_up() -> None:
    failures = [("token", "too short"), ("url", "not a URL")]
    assert inputs.known_failures({"token": UNKNOWN, "url": "x"}, failures) == [("url", "not a URL")]
    # What the provider host really hands over during a preview: pulumi.output.Unknown objects.
    assert inputs.known_failures({"token": Unknown(), "url": "x"}, failures) == [("url", "not a URL")]


def test_unknown_is_seen_inside_lists_maps_and_secrets() -> None:
    assert inputs.is_unknown(Unknown()) and inputs.is_unknown(UNKNOWN)
    assert inputs.is_unknown(["a", Unknown()]) and inputs.is_unknown({"k": {"j": UNKNOWN}})
    assert inputs.is_unknown(wrap_rpc_secret(Unknown()))
    assert not inputs.is_unknown(["a", {"k": "v"}]) and not inputs.is_unknown(None) and not inputs.is_unknown("")


def test_code_hash_changes_with_any_of_its_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("A = 1\n")
    b.write_text("B = 1\n")
    first = inputs.code_hash(a, b)
    assert inputs.code_hash(a, b) == first
    b.write_text("B = 2\n")
    assert inputs.code_hash(a, b) != first
    assert inputs.code_hash(inputs) == inputs.code_hash(Path(inputs.__file__))


def test_changed_inputs_compares_only_the_named_properties() -> None:
    olds = {"a": 1, "b": 2, "out": "x"}
    assert inputs.changed_inputs(olds, {"a": 1, "b": 3}, ["a", "b"]) == ["b"]
    assert inputs.changed_inputs(olds, {"a": 1, "b": 2, "out": "y"}, ["a", "b"]) == []
