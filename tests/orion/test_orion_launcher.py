"""The real launcher: spark-submit's argument list, the child's environment, the log pump, signals.

A stand-in `bin/spark-submit` (a Python script) execs the agent exactly as Spark's PythonRunner
would, so the agent's hand-over to the job (argv, sys.path, __main__) is exercised for real.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orion.joblog import BoundedLog
from orion.launcher import AGENT, SparkSubmitLauncher, build_command, child_env, spark_defaults_keys
from orion.models import JobRecord, JobState
from orion.scrub import MASK, Scrubber
from orion.settings import OrionSettings

SECRET = "aws-secret-value-42"
FAKE_SUBMIT = f"""#!{sys.executable}
import os, sys
args = sys.argv[1:]
i = next(k for k, a in enumerate(args) if a.endswith("/agent/driver.py"))
print("options:", " ".join(args[:i]))
print("secret in env:", os.environ.get("AWS_SECRET_ACCESS_KEY"))
print("token in env:", "ORION_TOKEN" in os.environ)
print("marker:", os.environ.get("ORION_JOB_RUN"))
print("26/11/26 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID app-20261126000000-0042")
sys.stdout.flush()
if os.environ.get("FAKE_SUBMIT_FORK"):  # like the JVM: run the Python driver as a child and wait for it
    import signal, subprocess
    signal.signal(signal.SIGTERM, lambda *_: print("parent got SIGTERM", flush=True))
    rc = subprocess.call([sys.executable, *args[i:]])
    sys.exit(rc if rc >= 0 else 128 - rc)
os.execv(sys.executable, [sys.executable, *args[i:]])
"""
JOB = """
import os, subprocess, sys, time
print("name:", __name__)
print("argv:", sys.argv)
print("path0:", sys.path[0])
print("agent dir on path:", any(p.endswith("/orion/agent") for p in sys.path))
sys.stdout.flush()
if "--spawn" in sys.argv:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("grandchild:", child.pid, flush=True)
if "--sleep" in sys.argv:
    time.sleep(60)
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


@pytest.fixture
def real_settings(make_settings: Callable[..., OrionSettings], spark_home: Path) -> OrionSettings:
    submit = spark_home / "bin" / "spark-submit"
    submit.write_text(FAKE_SUBMIT)
    submit.chmod(submit.stat().st_mode | stat.S_IEXEC)
    return make_settings(cores_max=2)


def _job(tmp_path: Path, args: list[str], conf: dict[str, str] | None = None) -> JobRecord:
    job_file = tmp_path / "jobs_here" / "my_job.py"
    job_file.parent.mkdir(exist_ok=True)
    job_file.write_text(JOB)
    return JobRecord(
        id=7, name="my_job", source="upload", file_path=str(job_file), args=args, conf=conf or {}, supervise=False,
        state=JobState.QUEUED, created_at="", updated_at="", run=1,
    )  # fmt: skip


def _wait(run, timeout: float = 30) -> int:  # type: ignore[no-untyped-def]
    rc = run.wait(timeout)
    assert rc is not None, "the fake driver did not end"
    time.sleep(0.2)  # let the pump drain the pipe
    return rc


def test_command_is_an_argument_list_with_the_cores_cap(real_settings: OrionSettings) -> None:
    job = JobRecord(
        id=3, name="x", source="shipped", file_path="/jobs/x.py", args=["--a", "b c; rm -rf /"],
        conf={"spark.executor.memory": "1g"}, supervise=False, state=JobState.QUEUED, created_at="", updated_at="",
    )  # fmt: skip
    argv = build_command(real_settings, job)
    assert argv[:7] == [
        str(real_settings.spark_submit), "--master", "spark://master.invalid:7077", "--deploy-mode", "client",
        "--name", "orion-3-x",
    ]  # fmt: skip
    assert "spark.cores.max=2" in argv and "spark.executor.memory=1g" in argv
    assert argv[-4:] == [str(AGENT), "/jobs/x.py", "--a", "b c; rm -rf /"]  # one argument, no shell


def test_job_cores_below_the_cap_are_kept(real_settings: OrionSettings) -> None:
    job = _job(Path("/tmp"), [], {"spark.cores.max": "1"})
    assert "spark.cores.max=1" in build_command(real_settings, job)


def test_driver_memory_is_capped_unless_spark_defaults_or_the_job_set_it(
    real_settings: OrionSettings, tmp_path: Path
) -> None:
    (tmp_path / "spark-defaults.conf").write_text(
        "# comment\nspark.driver.memory 1g\nspark.executor.memory=512m\n! other comment\nspark.master:spark://m:7077\n"
    )
    keys = spark_defaults_keys({"SPARK_CONF_DIR": str(tmp_path)})
    assert keys == {"spark.driver.memory", "spark.executor.memory", "spark.master"}
    assert spark_defaults_keys({}) == set() and spark_defaults_keys({"SPARK_CONF_DIR": "/nowhere"}) == set()
    job = _job(tmp_path, [])
    assert "spark.driver.memory=512m" in build_command(real_settings, job)
    assert not any(a.startswith("spark.driver.memory") for a in build_command(real_settings, job, keys))
    own = _job(tmp_path, [], {"spark.driver.memory": "768m"})
    assert "spark.driver.memory=768m" in build_command(real_settings, own)


def test_child_env_passes_lakehouse_and_aws_but_not_orion_variables(tmp_path: Path) -> None:
    env = child_env(
        {"ORION_TOKEN": "t" * 20, "LAKEHOUSE_KAFKA_TOPIC": "t", "AWS_SECRET_ACCESS_KEY": "s", "SPARK_CONF_DIR": "/c"},
        "inst:1:1",
        tmp_path / "status.json",
    )
    assert "ORION_TOKEN" not in env
    assert (env["LAKEHOUSE_KAFKA_TOPIC"], env["AWS_SECRET_ACCESS_KEY"], env["SPARK_CONF_DIR"]) == ("t", "s", "/c")
    assert env["ORION_JOB_RUN"] == "inst:1:1" and env["ORION_DRIVER_STATUS_FILE"] == str(tmp_path / "status.json")
    assert env["PYSPARK_PYTHON"] == sys.executable


def test_launched_driver_runs_the_job_as_main_and_its_output_is_scrubbed(
    real_settings: OrionSettings, tmp_path: Path
) -> None:
    environ = {**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET, "ORION_TOKEN": "x" * 20}
    launcher = SparkSubmitLauncher(real_settings, Scrubber.from_environ(environ), environ=environ)
    job = _job(tmp_path, ["--flag", "it's; $(x)", "5"])
    log = BoundedLog(tmp_path / "log", 1 << 20)
    run = launcher.launch(job, log)
    assert _wait(run) == 5
    text = log.read(0).text
    assert SECRET not in text and f"secret in env: {MASK}" in text  # passed to the child, masked in the log
    assert "token in env: False" in text
    assert f"marker: {launcher.instance}:7:1" in text
    assert "name: __main__" in text
    assert f"argv: ['{job.file_path}', '--flag', \"it's; $(x)\", '5']" in text
    assert f"path0: {Path(job.file_path).parent}" in text
    assert "agent dir on path: False" in text
    assert run.detected_app_id == "app-20261126000000-0042"
    assert run.command[0].endswith("spark-submit") and "spark.cores.max=2" in " ".join(run.command)


def test_terminate_reaches_the_whole_process_group(real_settings: OrionSettings, tmp_path: Path) -> None:
    launcher = SparkSubmitLauncher(real_settings, Scrubber())
    log = BoundedLog(tmp_path / "log", 1 << 20)
    run = launcher.launch(_job(tmp_path, ["--spawn", "--sleep"]), log)
    grandchild = None
    for _ in range(300):
        for line in log.read(0).text.splitlines():
            if line.startswith("grandchild:"):
                grandchild = int(line.split()[1])
        if grandchild:
            break
        time.sleep(0.1)
    assert grandchild, log.read(0).text
    assert run.poll() is None
    run.terminate()
    assert _wait(run, 10) == -15
    time.sleep(0.3)
    assert not _alive(grandchild)


def test_terminate_signals_the_python_driver_and_lets_the_parent_exit_by_itself(
    real_settings: OrionSettings, tmp_path: Path
) -> None:
    environ = {**os.environ, "FAKE_SUBMIT_FORK": "1"}
    launcher = SparkSubmitLauncher(real_settings, Scrubber(), environ=environ)
    log = BoundedLog(tmp_path / "log", 1 << 20)
    run = launcher.launch(_job(tmp_path, ["--sleep"]), log)
    wait_for_line = time.monotonic() + 30
    while "path0:" not in log.read(0).text and time.monotonic() < wait_for_line:
        time.sleep(0.1)
    run.terminate()
    assert _wait(run, 10) == 143  # the parent saw its Python child end on SIGTERM and exited with it
    assert "parent got SIGTERM" not in log.read(0).text


def test_kill_leftovers_finds_a_run_by_its_marker(real_settings: OrionSettings, tmp_path: Path) -> None:
    launcher = SparkSubmitLauncher(real_settings, Scrubber())
    job = _job(tmp_path, ["--sleep"])
    run = launcher.launch(job, BoundedLog(tmp_path / "log", 1 << 20))
    time.sleep(1.0)
    other_run = JobRecord(**{**job.__dict__, "run": 2})
    assert launcher.kill_leftovers(other_run) == 0  # another run's marker: not ours to kill
    assert launcher.kill_leftovers(job) >= 1
    assert _wait(run, 10) == -9


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"
