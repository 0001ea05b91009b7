"""Driving a server with wrk (16 connections by default) and reading its summary."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


@dataclass(frozen=True)
class Line:
    """One request wrk sends: a method, a path, the cookies, and a form body in which
    ``__TOKEN__`` becomes a fresh UUID each time."""

    method: str
    path: str
    cookie: str = ""
    body: str = ""

    def render(self) -> str:
        for value in (self.method, self.path, self.cookie, self.body):
            if "\t" in value or "\n" in value:
                raise ValueError("tabs and newlines cannot appear in a request line")
        return f"{self.method}\t{self.path}\t{self.cookie}\t{self.body}"


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    succeeded: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    statuses: dict[str, int]
    errors: dict[str, int]
    connections: int

    @property
    def throughput(self) -> float:
        """Successful responses per second: errors never count as throughput."""
        return self.succeeded / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "throughput": round(self.throughput, 1)}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run(
    name: str,
    base_url: str,
    lines: list[Line],
    *,
    expect: str,
    connections: int = 16,
    seconds: float = 10,
    warmup: float = 2,
    timeout: float = 10,
) -> LoadResult:
    """Run wrk against ``base_url`` with ``lines`` in turn. ``expect`` says what counts
    as success: an HTTP status ("200", "201"), or "filed" (a 302 to the filed page)."""
    with tempfile.TemporaryDirectory(prefix="boundaries-wrk-") as folder:
        requests_file = Path(folder) / "requests.tsv"
        requests_file.write_text("\n".join(line.render() for line in lines) + "\n")
        if warmup:
            _wrk(
                base_url, requests_file, Path(folder) / "warmup.json", connections, warmup, timeout
            )
        summary = _wrk(
            base_url, requests_file, Path(folder) / "result.json", connections, seconds, timeout
        )
    statuses = {str(status): count for status, count in summary["statuses"].items()}
    succeeded = summary["filed"] if expect == "filed" else statuses.get(expect, 0)
    latency = summary["latency_us"]
    return LoadResult(
        name=name,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        succeeded=succeeded,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=latency["mean"] / 1000,
        statuses=statuses,
        errors=summary["errors"],
        connections=connections,
    )


def _wrk(
    base_url: str,
    requests_file: Path,
    result_file: Path,
    connections: int,
    seconds: float,
    timeout: float,
) -> dict:
    command = [
        "wrk",
        "--threads",
        str(min(2, connections)),
        "--connections",
        str(connections),
        "--duration",
        f"{seconds:g}s",
        "--timeout",
        f"{timeout:g}s",
        "--script",
        str(WRK_SCRIPT),
        base_url,
        "--",
        str(result_file),
        str(requests_file),
        secrets.token_hex(4),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"wrk failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(result_file.read_text())
