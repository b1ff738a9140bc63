"""Orion's settings: the ORION_* environment contract, validated once at start-up.

The stack and the test bed set these variables; `python -m orion` refuses to start when one is
missing or wrong (above all a missing or short ORION_TOKEN) and says which and what is allowed,
without ever echoing the token.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.units import MEMORY_PATTERN, memory_bytes

MIN_TOKEN_LENGTH = 16
# Well-known placeholders that a template or an example might leave behind.
_PLACEHOLDER_TOKENS = {"changeme", "change-me", "change_me", "secret", "token", "orion", "password"}
_CODE_TREE = Path(__file__).resolve().parent
Memory = Annotated[str, Field(pattern=MEMORY_PATTERN)]


class OrionSettings(BaseSettings):
    """One field per ORION_* variable (prefix stripped, case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="ORION_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="Bearer token every API call but /health must carry (>= 16 chars).")
    spark_master_url: str = Field(description="spark://host:port of the standalone master.")
    spark_master_ui: str = Field(description="http://host:port of the master's web UI (its /json/ API).")
    # The directory holding bin/spark-submit (defaults to $SPARK_HOME).
    spark_home: Path = Field(default_factory=lambda: Path(os.environ.get("SPARK_HOME", "/opt/spark")))
    data_dir: Path = Field(default=Path("/var/lib/orion"), description="SQLite registry, driver logs, uploads.")
    jobs_dir: Path | None = Field(default=None, description="Directory of shipped jobs (<name>.py).")
    cores_max: Annotated[int, Field(ge=1, le=1024)] = Field(default=1, description="spark.cores.max of each app.")
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(default=8000, description="Port the HTTP server binds.")

    # Limits and supervision; defaults suit the stack, tests shorten them.
    upload_max_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    log_max_bytes: Annotated[int, Field(ge=4096, le=1024 * 1024 * 1024)] = 8 * 1024 * 1024
    max_restarts: Annotated[int, Field(ge=0, le=1000)] = 5
    restart_backoff_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0
    restart_backoff_max_seconds: Annotated[float, Field(ge=0, le=86400)] = 60.0
    restart_reset_seconds: Annotated[float, Field(ge=0)] = 300.0
    poll_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    # SIGTERM to SIGKILL. The streaming job's own bounded stop (contract 4) finishes its batch in flight
    # within its grace (up to ~60 s) or abandons it (up to ~30 s more), then closes its session: 120 s
    # leaves it ~30 s for that on a loaded machine before Orion's SIGKILL, which always follows.
    stop_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 120.0
    max_active_jobs: Annotated[int, Field(ge=1, le=256)] = 4
    default_driver_memory: Memory = "512m"  # when neither the job nor spark-defaults.conf sets spark.driver.memory
    # Bounds on what a submission's spark.* conf may ask for (orion/validation.py names the keys); the
    # driver's JVM runs beside Orion.
    max_driver_memory: Memory = "1g"
    max_executor_memory: Memory = "2g"
    max_memory_overhead: Memory = "1g"
    # How Orion learns a submission's checkpoint (`<job> --describe`, orion/checkpoint.py).
    describe_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    describe_max_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    # Hostile clients (orion/guard.py): requests in flight, failed authentications per client, slow bodies.
    max_concurrent_requests: Annotated[int, Field(ge=1, le=1024)] = 32
    auth_failures_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 30
    body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # The HTTP server (orion/__main__.py): open connections, and how long a new one may take to send its headers.
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 256
    header_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0

    @field_validator("token")
    @classmethod
    def _token_strong_enough(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters (got {len(raw)})")
        if raw.strip().lower() in _PLACEHOLDER_TOKENS or len(set(raw)) < 4:
            raise ValueError("looks like a placeholder; use a generated secret")
        return value

    @field_validator("spark_master_url")
    @classmethod
    def _spark_url(cls, value: str) -> str:
        if not value.startswith("spark://") or len(value) <= len("spark://"):
            raise ValueError(f"{value!r} must look like spark://host:port")
        return value

    @field_validator("spark_master_ui")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _dirs(self) -> OrionSettings:
        if not self.spark_submit.is_file():
            raise ValueError(f"ORION_SPARK_HOME={self.spark_home} has no bin/spark-submit")
        data = self.data_dir.resolve()
        # Uploads land under the data dir: keep it out of the code tree (and out of the image layer).
        if data == _CODE_TREE or _CODE_TREE in data.parents:
            raise ValueError(f"ORION_DATA_DIR={self.data_dir} is inside Orion's code tree; pick a volume")
        if self.jobs_dir is not None and not self.jobs_dir.is_dir():
            raise ValueError(f"ORION_JOBS_DIR={self.jobs_dir} is not a directory")
        return self

    @property
    def driver_memory_when_unset(self) -> str:
        """ORION_DEFAULT_DRIVER_MEMORY, but never above ORION_MAX_DRIVER_MEMORY."""
        return min(self.default_driver_memory, self.max_driver_memory, key=memory_bytes)  # type: ignore[arg-type]

    @property
    def spark_submit(self) -> Path:
        return self.spark_home / "bin" / "spark-submit"


def describe_errors(exc: ValidationError) -> str:
    """A start-up error message naming each bad variable, never its value (it may be the token)."""
    lines = ["Orion cannot start: fix these ORION_* environment variables:"]
    for err in exc.errors(include_input=False, include_url=False):
        loc = err.get("loc") or ()
        name = f"ORION_{str(loc[0]).upper()}" if loc else "settings"
        msg = "is required" if err.get("type") == "missing" else err.get("msg", "invalid")
        lines.append(f"  {name}: {msg}")
    return "\n".join(lines)
