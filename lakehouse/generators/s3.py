"""The one description of how every client reaches the S3 server (endpoint, region, path-style).

Credentials are not part of it: each service gets its own identity's keys through its environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    """http://minio:9000 in Docker, http://127.0.0.1:<port> in the test bed."""
    region: str = "us-east-1"
    path_style: bool = True
    """Path-style addressing: MinIO and SeaweedFS have no per-bucket DNS names."""

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"S3 endpoint {self.url!r} must start with http:// or https://")

    @property
    def ssl(self) -> bool:
        return self.url.startswith("https://")
