"""The streaming job running under Spark Orion, as a Pulumi resource (a dynamic provider) driving Orion and the
Spark master's web UI through their published ports with `lakehouse.clients.streaming_job`:
- create: submits the job supervised (or adopts the one Orion runs with the same spec) and returns once it really
  streams, or fails fast with the driver's own error line;
- diff asks Orion for the job's state: a job that died since the last `up` is a change, started again;
- update: a new code hash, arguments, conf or supervision restarts it (the checkpoint carries on); a new job name
  replaces it; delete: stops it, waits until the master forgets the application, deletes the Orion job.
Orion's token arrives as a secret input and is never kept by the provider object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from components.providers.inputs import Provider, changed_inputs, code_hash
from lakehouse.clients import streaming_job
from lakehouse.clients.streaming_job import FINISHED_STATES, JobSpec, OrionClient, OrionError

INT_PROPS = ("start_timeout_seconds", "stop_timeout_seconds")
REPLACE_PROPS = ("job",)
RESTART_PROPS = ("args", "conf", "supervise", "code_hash")
INPUT_PROPS = ("orion_url", "orion_token", "spark_master_ui", "job", *RESTART_PROPS, *INT_PROPS, "provider_hash")


def provider_hash() -> str:
    return code_hash(Path(__file__), streaming_job)


def validate(props: dict[str, Any]) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    for prop in ("orion_url", "spark_master_ui"):
        value = props.get(prop)
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            failures.append((prop, f"{prop} = {value!r} must be an http(s):// URL"))
    token = props.get("orion_token")
    if not isinstance(token, str) or len(token) < 16:
        # Never echo the token: it is a secret.
        failures.append(("orion_token", "orion_token must be Orion's bearer token (at least 16 characters)"))
    job = props.get("job")
    if not isinstance(job, str) or not job.isidentifier():
        failures.append(("job", f"job = {job!r} must be the name of a shipped job (e.g. logistics_stream)"))
    args = props.get("args")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        failures.append(("args", f"args = {args!r} must be a list of strings"))
    conf = props.get("conf")
    if not isinstance(conf, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in conf.items()):
        failures.append(("conf", f"conf = {conf!r} must map spark.* keys to string values"))
    if not isinstance(props.get("supervise"), bool):
        failures.append(("supervise", f"supervise = {props.get('supervise')!r} must be true or false"))
    code_hash = props.get("code_hash")
    if not isinstance(code_hash, str) or len(code_hash) != 64:
        failures.append(("code_hash", f"code_hash = {code_hash!r} must be a SHA-256 hex digest"))
    for prop in INT_PROPS:
        value = props.get(prop)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3600:
            failures.append((prop, f"{prop} = {value!r} must be an integer from 1 to 3600"))
    return failures


def diff(olds: dict[str, Any], news: dict[str, Any], live_state: str | None = None) -> tuple[bool, list[str]]:
    """(changed, replaces); a job that is not running any more (`live_state`, else as last seen) is a change."""
    changed = changed_inputs(olds, news, INPUT_PROPS)
    return bool(changed) or ended(olds, live_state), [k for k in REPLACE_PROPS if k in changed]


def ended(olds: dict[str, Any], live_state: str | None = None) -> bool:
    state = live_state if live_state is not None else olds.get("state")
    return state == "gone" or state in FINISHED_STATES


def needs_restart(olds: dict[str, Any], news: dict[str, Any], live_state: str | None = None) -> bool:
    return bool(changed_inputs(olds, news, RESTART_PROPS)) or ended(olds, live_state)


def live_state(props: dict[str, Any]) -> str | None:
    """The job's state as Orion reports it now ("gone" when Orion has no such job), or None when Orion cannot
    be asked (not reachable, or its URL or token not known yet during a preview)."""
    url, token, job_id = props.get("orion_url"), props.get("orion_token"), props.get("job_id")
    if not (isinstance(url, str) and isinstance(token, str) and isinstance(job_id, int | float)):
        return None
    try:
        job = OrionClient(url, token, timeout=10).job(int(job_id))
    except OrionError:
        return None
    return "gone" if job is None else str(job.get("state"))


def spec_of(props: dict[str, Any]) -> JobSpec:
    args, conf, supervise = list(props["args"]), dict(props["conf"]), bool(props["supervise"])
    return JobSpec(name=props["job"], args=args, conf=conf, supervise=supervise, code_hash=props["code_hash"])


def _outputs(props: dict[str, Any], job: dict[str, Any], adopted: bool) -> dict[str, Any]:
    live = {"job_id": int(job["id"]), "state": job.get("state"), "app_id": job.get("app_id")}
    return {**props, **live, "adopted": adopted}


class StreamingJobProvider(Provider):
    """The resource id is Orion's job id."""

    INT_PROPS = INT_PROPS

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        return validate(news)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
        return diff(olds, news, live_state(olds))

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = OrionClient(props["orion_url"], props["orion_token"])
        job, adopted = streaming_job.ensure_running(
            client, spec_of(props), start_timeout=props["start_timeout_seconds"]
        )
        return CreateResult(str(job["id"]), _outputs(props, job, adopted))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = OrionClient(news["orion_url"], news["orion_token"])
        current = int(olds.get("job_id") or id_)
        job = client.job(current)
        if job is not None and not needs_restart(olds, news, str(job.get("state"))):
            return UpdateResult(_outputs(news, job, bool(olds.get("adopted"))))
        _stop(client, current, news)
        job, adopted = streaming_job.ensure_running(client, spec_of(news), start_timeout=news["start_timeout_seconds"])
        # The resource keeps its id (Pulumi ids are fixed by create); `job_id` is the job Orion runs now.
        return UpdateResult(_outputs(news, job, adopted))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = OrionClient(props["orion_url"], props["orion_token"])
        if (job := client.job(int(props.get("job_id") or id_))) is None:
            return ReadResult(None, {})
        return ReadResult(id_, _outputs(props, job, bool(props.get("adopted"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _stop(OrionClient(props["orion_url"], props["orion_token"]), int(props.get("job_id") or id_), props)


def _stop(client: OrionClient, job_id: int, props: dict[str, Any]) -> None:
    streaming_job.stop_and_forget(
        client, job_id, master_ui=props["spark_master_ui"], stop_timeout=props["stop_timeout_seconds"]
    )


class StreamingJob(pulumi.dynamic.Resource, module="lakehouse", name="StreamingJob"):
    """A shipped job (by default `logistics_stream`) running supervised under Spark Orion."""

    job_id: pulumi.Output[int]
    state: pulumi.Output[str]
    app_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        orion_url: pulumi.Input[str],
        orion_token: pulumi.Input[str],
        spark_master_ui: pulumi.Input[str],
        code_hash: str,
        job: str = "logistics_stream",
        args: list[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "orion_url": orion_url,
            "orion_token": pulumi.Output.secret(orion_token),
            "spark_master_ui": spark_master_ui,
            "job": job,
            "args": list(args or []),
            "conf": {},
            "supervise": True,
            "code_hash": code_hash,
            "start_timeout_seconds": 600,
            "stop_timeout_seconds": 300,
            "provider_hash": provider_hash(),
            **dict.fromkeys(("job_id", "state", "app_id", "adopted")),
        }
        super().__init__(StreamingJobProvider(), resource_name, props, opts)
