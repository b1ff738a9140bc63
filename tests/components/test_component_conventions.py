"""Conventions every component follows, checked on the source (ast) and on the Args classes.

- one ComponentResource per module, type token `lakehouse:index:<Type>`;
- inputs as one frozen `<Type>Args` dataclass;
- `self.register_outputs({...})` (non-empty) is the last statement of `__init__`;
- Args validate plain values with a ValueError that names the field.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest
from stack_harness import Recording

from components.kafka import KafkaClusterArgs

ROOT = Path(__file__).resolve().parents[2]
COMPONENT_FILES = sorted(
    p for p in (ROOT / "components").glob("*.py") if "ComponentResource" in p.read_text() and p.name != "__init__.py"
)


def component_classes(path: Path) -> list[ast.ClassDef]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).endswith("ComponentResource") for base in node.bases)
    ]


def test_the_stack_declares_every_component(default_stack: Recording) -> None:
    declared = {r.typ for r in default_stack.resources}
    names = [cls.name for path in COMPONENT_FILES for cls in component_classes(path)]
    assert names, "no component found under components/"
    assert {f"lakehouse:index:{name}" for name in names} <= declared


@pytest.mark.parametrize("path", COMPONENT_FILES, ids=lambda p: p.name)
def test_one_component_per_module_ending_init_with_register_outputs(path: Path) -> None:
    classes = component_classes(path)
    assert len(classes) == 1, f"{path.name} defines {[c.name for c in classes]}"
    (cls,) = classes
    (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    last = init.body[-1]
    assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call), f"{cls.name}.__init__ ends otherwise"
    call = last.value
    assert ast.unparse(call.func) == "self.register_outputs", f"{cls.name}.__init__ does not end with register_outputs"
    (arg,) = call.args
    assert not (isinstance(arg, ast.Dict) and not arg.keys), f"{cls.name} registers no outputs"
    super_calls = [n for n in ast.walk(init) if isinstance(n, ast.Call) and ast.unparse(n.func) == "super().__init__"]
    assert super_calls and ast.literal_eval(super_calls[0].args[0]) == f"lakehouse:index:{cls.name}"


@pytest.mark.parametrize("path", COMPONENT_FILES, ids=lambda p: p.name)
def test_args_are_a_frozen_dataclass_with_field_docs(path: Path) -> None:
    (cls,) = component_classes(path)
    module = importlib.import_module(f"components.{path.stem}")
    args_cls = getattr(module, f"{cls.name}Args")
    assert dataclasses.is_dataclass(args_cls)
    assert args_cls.__dataclass_params__.frozen
    # Each field is followed by a docstring line in the class body.
    classes = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]
    (tree,) = [n for n in classes if n.name == args_cls.__name__]
    body = tree.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign):
            nxt = body[i + 1] if i + 1 < len(body) else None
            assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant), (
                f"{args_cls.__name__}.{ast.unparse(node.target)} has no docstring line"
            )


def test_args_validation_names_the_field() -> None:
    from components.network import NetworkArgs
    from components.secrets import SecretsArgs

    with pytest.raises(ValueError, match=r"NetworkArgs\.name = 'bad name'"):
        NetworkArgs(name="bad name")
    with pytest.raises(ValueError, match=r"KafkaClusterArgs\.mode = 'raft'"):
        _kafka_args(mode="raft")
    with pytest.raises(ValueError, match="zookeeper_image is required"):
        _kafka_args(mode="zookeeper")
    with pytest.raises(ValueError, match="unknown key"):
        SecretsArgs(provided={"rootPassword": "x"})


def _kafka_args(mode: str) -> KafkaClusterArgs:
    return KafkaClusterArgs(
        network_name="n",
        mode=mode,
        brokers=3,
        image="i:1",
        cluster_id="x",
        host_port_base=19092,
        bind_address="127.0.0.1",
        heap="512m",
        topic="t",
        partitions=6,
    )
