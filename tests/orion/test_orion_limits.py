"""What a client may ask for: spark.* memory and cores bounded by Orion's limits, no executable chosen by
conf, names that cannot leave the data directory, and no shell anywhere in Orion."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher

from contract.units import memory_bytes
from orion.settings import OrionSettings
from orion.validation import InvalidRequest, parse_conf

ORION = Path(__file__).resolve().parents[2] / "orion"
LIMITS = OrionSettings.model_construct(
    cores_max=2, max_driver_memory="1g", max_executor_memory="2g", max_memory_overhead="512m"
)


@pytest.mark.parametrize(
    ("conf", "detail"),
    [
        ({"spark.driver.memory": "2g"}, "from 1 byte to 1g (ORION_MAX_DRIVER_MEMORY)"),
        ({"spark.driver.memory": "1025m"}, "ORION_MAX_DRIVER_MEMORY"),
        ({"spark.driver.memory": "1048577k"}, "ORION_MAX_DRIVER_MEMORY"),
        ({"spark.driver.memory": "2048"}, "ORION_MAX_DRIVER_MEMORY"),  # a bare number is MiB
        ({"spark.driver.maxResultSize": "0"}, "ORION_MAX_DRIVER_MEMORY"),  # 0 would mean unlimited
        ({"spark.executor.memory": "3g"}, "from 1 byte to 2g (ORION_MAX_EXECUTOR_MEMORY)"),
        ({"spark.executor.memory": "1.5g"}, "ORION_MAX_EXECUTOR_MEMORY"),  # Spark refuses fractions too
        ({"spark.executor.memory": "-1g"}, "ORION_MAX_EXECUTOR_MEMORY"),
        ({"spark.executor.pyspark.memory": "4g"}, "ORION_MAX_EXECUTOR_MEMORY"),
        ({"spark.memory.offHeap.size": "3221225472"}, "ORION_MAX_EXECUTOR_MEMORY"),  # bytes: 3 GiB
        ({"spark.python.worker.memory": "1t"}, "ORION_MAX_EXECUTOR_MEMORY"),
        ({"spark.executor.memoryOverhead": "1g"}, "from 1 byte to 512m (ORION_MAX_MEMORY_OVERHEAD)"),
        ({"spark.driver.memoryOverhead": "600"}, "ORION_MAX_MEMORY_OVERHEAD"),
        ({"spark.executor.memoryOverheadFactor": "5"}, "above 0 and at most 1"),
        ({"spark.driver.memoryOverheadFactor": "x"}, "above 0 and at most 1"),
        ({"spark.cores.max": 3}, "integer from 1 to 2 (ORION_CORES_MAX)"),
        ({"spark.executor.cores": "8"}, "integer from 1 to 2 (ORION_CORES_MAX)"),
        ({"spark.driver.cores": "0"}, "integer from 1 to 2"),
        ({"spark.task.cpus": "3"}, "integer from 1 to 2"),
        ({"spark.executor.instances": "100"}, "integer from 1 to 2"),
        ({"spark.dynamicAllocation.maxExecutors": "1000"}, "integer from 1 to 2"),
        ({"spark.dynamicAllocation.initialExecutors": "-1"}, "integer from 0 to 2"),
        ({"spark.pyspark.python": "/bin/sh"}, "chooses the program Spark runs"),
        ({"spark.pyspark.driver.python": "/bin/sh"}, "chooses the program Spark runs"),
        ({"spark.executorEnv.PYSPARK_PYTHON": "/bin/sh"}, "chooses the program Spark runs"),
        ({"spark.driver.extraJavaOptions": "-XX:OnOutOfMemoryError='sh -c id'"}, "run a shell command"),
        ({"spark.executor.extraJavaOptions": "-Xss4m -XX:OnError=/bin/sh"}, "run a shell command"),
        ({"spark.submit.pyFiles": "/etc/passwd"}, "is set by Orion"),
    ],
)
def test_conf_beyond_orions_limits_is_refused(conf: dict[str, object], detail: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_conf(json.dumps(conf), LIMITS)
    assert detail in err.value.detail and err.value.status_code == 422


def test_conf_within_the_limits_is_kept_as_given() -> None:
    conf = {
        "spark.driver.memory": "1g", "spark.executor.memory": "2048m", "spark.executor.memoryOverhead": "384",
        "spark.memory.offHeap.size": "104857600", "spark.driver.maxResultSize": "512m", "spark.cores.max": 2,
        "spark.executor.cores": "1", "spark.dynamicAllocation.minExecutors": "0",
        "spark.executor.memoryOverheadFactor": "0.2", "spark.driver.extraJavaOptions": "-Xss4m",
        "spark.sql.shuffle.partitions": "4",
    }  # fmt: skip
    assert parse_conf(json.dumps(conf), LIMITS) == {k: str(v) for k, v in conf.items()}


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [("512m", 1 << 20, 512 << 20), ("2G", 1, 2 << 30), ("100kb", 1, 102400), ("7", 1 << 20, 7 << 20),
     ("7b", 1 << 20, 7), ("1.5g", 1, None), ("g", 1, None), ("", 1, None)],
)  # fmt: skip
def test_spark_sizes_read_as_spark_reads_them(text: str, unit: int, expected: int | None) -> None:
    assert memory_bytes(text, spark=True, default_unit=unit) == expected


def test_the_api_applies_the_settings_limits(client: TestClient, launcher: FakeLauncher) -> None:
    resp = client.post("/jobs", data={"job": "count_batch", "conf": '{"spark.executor.memory": "64g"}'})
    assert resp.status_code == 422 and "ORION_MAX_EXECUTOR_MEMORY" in resp.json()["detail"]
    assert launcher.runs == []


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        ("../../etc/evil.py", "evil.py"),
        ("/etc/cron.d/evil.py", "evil.py"),
        ("..\\..\\windows\\evil.py", "evil.py"),
        ("a/../../b.py", "b.py"),
        ("..py", "_.py"),
        ("über cool.py", "_ber_cool.py"),
        ("x" * 300 + ".py", "x" * 100 + ".py"),
        ("nul\0byte.py", "nul_00byte.py"),  # the client sends the NUL as %00
    ],
)
def test_upload_names_cannot_leave_the_upload_directory(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings, filename: str, stored: str
) -> None:
    resp = client.post("/jobs", files={"file": (filename, b"print(1)\n")})
    assert resp.status_code == 201, resp.text
    path = Path(launcher.runs[-1][0].file_path).resolve()
    uploads = (settings.data_dir / "uploads").resolve()
    assert path.parent.parent == uploads and path.name == stored


@pytest.mark.parametrize("name", ["../count_batch", "count_batch.py", "/etc/passwd", "orion_testpkg", "..", "_x"])
def test_shipped_job_names_are_only_the_catalogs(client: TestClient, launcher: FakeLauncher, name: str) -> None:
    resp = client.post("/jobs", data={"job": name})
    assert resp.status_code == 422 and "unknown job" in resp.json()["detail"]
    assert launcher.runs == []


@pytest.mark.parametrize("path", ["/jobs/..%2F..%2Fetc", "/jobs/1%2F..", "/jobs/-1/logs", "/jobs/1e3"])
def test_job_ids_are_integers_only(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in {404, 422}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def test_nothing_in_orion_reaches_a_shell() -> None:
    forbidden = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
                 "asyncio.create_subprocess_shell", "os.execl", "os.execlp", "os.spawnl"}  # fmt: skip
    launches = 0
    for path in sorted(ORION.rglob("*.py")):
        for call in _calls(ast.parse(path.read_text(), filename=str(path))):
            name = _name(call.func)
            assert name not in forbidden, f"{path.name} calls {name}"
            for kw in call.keywords:
                assert not (kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)), (
                    f"{path.name}: {name}(shell=...)"
                )
            if name in {"subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_output", "Popen",
                        "self._popen"}:  # fmt: skip
                launches += 1
                first = call.args[0] if call.args else None
                assert not isinstance(first, ast.Constant | ast.JoinedStr), f"{path.name}: {name} with a string"
    assert launches >= 2  # spark-submit (launcher) and --describe (checkpoint): both argument lists
