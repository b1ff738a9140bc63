"""The engine harness's own logic, without the CLI: where it finds secrets, how it names programs."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path

import pytest

from tests.engine import harness


class _Leaky:
    def __init__(self, token: str) -> None:
        self.token = token


def program() -> dict:
    return {}


def _stack_with_state(tmp_path: Path, state: dict) -> harness.EngineStack:
    engine = object.__new__(harness.Engine)  # no clone, no CLI: only the paths the scan reads
    engine.backend = tmp_path / "backend"
    engine.clone = tmp_path / "clone"
    engine.clone.mkdir()
    stack = harness.EngineStack(engine, program, "s1", params={}, secrets={}, config={}, secret_config={})
    path = engine.backend / ".pulumi" / "stacks" / "lakehouse" / "s1.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(state))
    return stack


def _state(outputs: dict) -> dict:
    return {"checkpoint": {"latest": {"resources": [{"type": "t", "outputs": outputs}]}}}


def test_a_secret_in_plain_text_is_found_and_a_ciphertext_is_not(tmp_path: Path) -> None:
    stack = _stack_with_state(tmp_path, _state({"a": "hunter2-secret", "b": {"ciphertext": "v1:xyz"}}))
    assert stack.plaintext_findings(["hunter2-secret", "not-there"]) == [".pulumi/stacks/lakehouse/s1.json: value #0"]
    with pytest.raises(AssertionError, match="secrets in plain text"):
        stack.assert_no_plaintext(["hunter2-secret"])
    stack.assert_no_plaintext(["not-there"])


def test_a_secret_captured_in_a_pickled_provider_is_found(tmp_path: Path) -> None:
    blob = base64.b64encode(pickle.dumps(_Leaky("captured-token-123"))).decode()
    assert "captured-token-123" not in blob  # invisible to a plain grep
    stack = _stack_with_state(tmp_path, _state({"__provider": blob}))
    assert stack.plaintext_findings(["captured-token-123"]) == [
        ".pulumi/stacks/lakehouse/s1.json: value #0 in a pickled provider"
    ]


def test_the_history_and_the_stack_config_are_scanned_too(tmp_path: Path) -> None:
    stack = _stack_with_state(tmp_path, _state({}))
    history = stack.engine.backend / ".pulumi" / "history" / "lakehouse" / "s1" / "s1-1.checkpoint.json"
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps(_state({"old": "old-secret"})))
    (stack.engine.clone / "Pulumi.s1.yaml").write_text("config:\n  engine:x: cfg-secret\n")
    assert stack.plaintext_findings(["old-secret", "cfg-secret"]) == [
        ".pulumi/history/lakehouse/s1/s1-1.checkpoint.json: value #0",
        "Pulumi.s1.yaml: value #1",
    ]


def test_resources_of_a_type_come_from_the_state(tmp_path: Path) -> None:
    stack = _stack_with_state(tmp_path, _state({"x": 1}))
    assert stack.resources("t") == [{"type": "t", "outputs": {"x": 1}}]
    assert stack.resources("other") == []


def test_programs_are_module_level_functions_of_the_repository() -> None:
    assert harness._program_ref(program) == {"file": "tests/engine/test_engine_harness.py", "function": "program"}

    def nested() -> dict:
        return {}

    with pytest.raises(ValueError, match="module-level function"):
        harness._program_ref(nested)
    with pytest.raises(ValueError, match="module-level function"):
        harness._program_ref(lambda: {})


def test_op_results_summarise_the_engine_events() -> None:
    step = harness.Step("replace", "t", "x", "urn:t", ["replication_factor"], [], ["replication_factor"])
    result = harness.OpResult("up", {"same": 1, "replace": 1, "update": 0}, steps=[step])
    assert result.changed() == {"replace": 1}
    assert result.step("t").keys == ["replication_factor"]
    assert result.ops("t") == ["replace"]
    with pytest.raises(KeyError, match="no step for 'u'"):
        result.step("u")
