"""The real launcher: spark-submit's argument list, the child's environment, the log pump, signals.

A stand-in `bin/spark-submit` (a Python script) execs the agent exactly as Spark's PythonRunner
would, so the agent's hand-over to the job (argv, sys.path, __main__) is exercised for real.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orion.codehash import job_code_hash, package_files
from orion.joblog import BoundedLog
from orion.launcher import AGENT, SparkSubmitLauncher, build_command, child_env, job_dir, spark_defaults_keys
from orion.models import JobRecord, JobState
from orion.scrub import MASK, Scrubber
from orion.settings import OrionSettings

SECRET = "aws-secret-value-42"  # pragma: allowlist secret - a test's fake
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
if "--outcome" in sys.argv:  # a bounded stop, as the streaming job does it (contract 4)
    import signal
    def stop(*_):
        print("stopping: finishing the batch in flight", flush=True)
        print("logistics_stream: stop-outcome=abandoned batch=17 seconds=30.0", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
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


def _wait_for_line(log: BoundedLog, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read(0).text:
        assert time.monotonic() < deadline, f"no {text!r} in the log: {log.read(0).text[-2000:]}"
        time.sleep(0.1)


def test_each_launch_ships_the_jobs_dir_packages_as_a_zip_and_records_their_code_hash(
    real_settings: OrionSettings, tmp_path: Path
) -> None:
    launcher = SparkSubmitLauncher(real_settings, Scrubber())
    job = _job(tmp_path, ["0"])
    run = launcher.launch(job, BoundedLog(tmp_path / "log", 1 << 20))
    assert _wait(run) == 0
    zip_path = job_dir(real_settings.data_dir, job.id) / "packages.zip"
    i = run.command.index("--py-files")
    assert run.command[i + 1] == str(zip_path) and run.command[i + 2] == str(AGENT)  # before the agent
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist() == [a for a, _ in package_files(real_settings.jobs_dir)]
        assert "orion_testpkg/rules.py" in zf.namelist()
    assert run.code_hash == job_code_hash(real_settings.jobs_dir, Path(job.file_path))


def test_without_packages_no_py_files_are_passed(make_settings, spark_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    submit = spark_home / "bin" / "spark-submit"
    submit.write_text(FAKE_SUBMIT)
    submit.chmod(submit.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "bare").mkdir()
    settings = make_settings(jobs_dir=tmp_path / "bare")
    run = SparkSubmitLauncher(settings, Scrubber()).launch(_job(tmp_path, ["0"]), BoundedLog(tmp_path / "l", 1 << 20))
    assert _wait(run) == 0
    assert "--py-files" not in run.command
    assert not (job_dir(settings.data_dir, 7) / "packages.zip").exists()


def test_the_pump_picks_up_the_jobs_stop_outcome_line(real_settings: OrionSettings, tmp_path: Path) -> None:
    launcher = SparkSubmitLauncher(real_settings, Scrubber())
    log = BoundedLog(tmp_path / "log", 1 << 20)
    run = launcher.launch(_job(tmp_path, ["--outcome", "--sleep"]), log)
    _wait_for_line(log, "ready")
    assert run.stop_outcome is None
    run.terminate()
    assert run.wait(30) == 0
    assert (run.stop_outcome, run.stop_batch_id) == ("abandoned", 17)  # read by the time wait() returns


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("INFO stop-outcome=finished batch=4\n", ("finished", 4)),
        ("stop-outcome=finished\n", ("finished", None)),
        ("2026 WARN logistics_stream: stop-outcome=abandoned batch=17 seconds=30.0\n", ("abandoned", 17)),
        ("stop-outcome=finishedish batch=3\n", None),
        ("stop-outcome=unknown batch=3\n", None),
    ],
)
def test_stop_outcome_line_format(line: str, expected: tuple[str, int | None] | None) -> None:
    from orion.launcher import _STOP_OUTCOME

    m = _STOP_OUTCOME.search(line)
    got = (m.group(1), int(m.group(2)) if m.group(2) else None) if m else None
    assert got == expected
