"""One Pulumi operation through the real CLI, run by tests/engine/harness.py in a clone of the project.

`python <clone>/tests/engine/runner.py REQUEST.json RESULT.json`: the harness starts it as a subprocess with
the clone as its working directory and the engine's environment (CLI on PATH, file backend, PULUMI_HOME,
passphrase), so the program imports the clone's code, as `pulumi up` in a user's clone does, and the
dynamic-provider host the CLI starts imports the same code. The request names the program (a function in a
file of the clone), the stack, its config and the operation; the result holds the summary, the engine's
step events, the outputs and the CLI's output, or the error. Not a test module: nothing here runs under
pytest.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any

CLONE = Path(__file__).resolve().parents[2]


def _load_program(spec: dict[str, str]) -> Any:
    path = CLONE / spec["file"]
    name = "engine_program_" + "".join(c if c.isalnum() else "_" for c in spec["file"].removesuffix(".py"))
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load the program file {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    function = getattr(module, spec["function"])

    def program() -> None:
        import pulumi

        for key, value in (function() or {}).items():
            pulumi.export(key, value)  # the stack outputs, as the stack's __main__.py exports its own

    return program


def _plain(value: Any) -> Any:
    """An engine value as JSON (enums as their value)."""
    value = getattr(value, "value", value)
    if isinstance(value, dict):
        return {str(getattr(k, "value", k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _event_recorder(steps: list[dict[str, Any]], diagnostics: list[dict[str, Any]]) -> Any:
    def on_event(event: Any) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None and pre.metadata is not None:
            m = pre.metadata
            old = dict(m.old.inputs or {}) if m.old is not None else {}
            new = dict(m.new.inputs or {}) if m.new is not None else {}
            changed = sorted(k for k in set(old) | set(new) if k != "__provider" and old.get(k) != new.get(k))
            steps.append(
                {
                    "op": _plain(m.op),
                    "urn": m.urn,
                    "type": m.type,
                    "name": m.urn.rsplit("::", 1)[-1],
                    "keys": list(m.keys or []),
                    "diffs": list(m.diffs or []),
                    "changed_inputs": changed if m.old is not None and m.new is not None else [],
                }
            )
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None:
            diagnostics.append({"severity": diag.severity, "message": diag.message, "urn": diag.urn})

    return on_event


def run(request: dict[str, Any]) -> dict[str, Any]:
    import pulumi.automation as auto

    program = _load_program(request["program"])
    command = auto.PulumiCommand(root=request["cli_root"])
    opts = auto.LocalWorkspaceOptions(work_dir=str(CLONE), pulumi_command=command)
    stack = auto.create_or_select_stack(
        stack_name=request["stack"], project_name=request["project"], program=program, opts=opts
    )
    config = {k: auto.ConfigValue(value=v["value"], secret=v["secret"]) for k, v in request["config"].items()}
    if config:
        stack.set_all_config(config)
    steps: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    on_event = _event_recorder(steps, diagnostics)
    op = request["op"]
    result: dict[str, Any] = {"op": op}
    if op == "up":
        done = stack.up(on_event=on_event, color="never")
        result["changes"] = _plain(done.summary.resource_changes or {})
        result["result"] = done.summary.result
    elif op == "preview":
        done = stack.preview(on_event=on_event, color="never", diff=True)
        result["changes"] = _plain(done.change_summary or {})
    elif op == "refresh":
        done = stack.refresh(on_event=on_event, color="never")
        result["changes"] = _plain(done.summary.resource_changes or {})
        result["result"] = done.summary.result
    elif op == "destroy":
        done = stack.destroy(on_event=on_event, color="never")
        result["changes"] = _plain(done.summary.resource_changes or {})
        result["result"] = done.summary.result
    elif op == "outputs":
        done = None
    else:
        raise ValueError(f"unknown operation {op!r}")
    if done is not None:
        result["stdout"], result["stderr"] = done.stdout, done.stderr
    result["outputs"] = {k: {"value": _plain(v.value), "secret": v.secret} for k, v in stack.outputs().items()}
    result["steps"], result["diagnostics"] = steps, diagnostics
    return result


def main(argv: list[str]) -> int:
    request_file, result_file = Path(argv[1]), Path(argv[2])
    sys.path.insert(0, str(CLONE))  # as for a program at the clone's root (`__main__.py`)
    request = json.loads(request_file.read_text())
    try:
        result = {"ok": True, **run(request)}
    except Exception as exc:
        result = {
            "ok": False,
            "op": request.get("op"),
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    result_file.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
