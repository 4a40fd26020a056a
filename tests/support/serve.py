"""``wharfinger serve`` (real gunicorn) as a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port, wait_for_http

WHARFINGER = str(Path(sys.executable).with_name("wharfinger"))


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any WHARFINGER_* or Prometheus setting, plus
    ``settings`` (names without the ``WHARFINGER_`` prefix)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WHARFINGER_") and k.upper() != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update({f"WHARFINGER_{k}": v for k, v in settings.items()})
    return env


@dataclass
class Served:
    """A running server: its base URL, the CA to verify it with, its log file."""

    url: str
    ca: str
    log: Path
    process: subprocess.Popen

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def served(
    env: Mapping[str, str], ca: str, log: Path, *, workers: int = 1, threads: int = 2
) -> Iterator[Served]:
    """Start ``wharfinger serve`` with ``env``, wait until ``/-/live`` answers over TLS
    (verified with ``ca``), yield, then stop it with SIGTERM."""
    port = free_port()
    command = [WHARFINGER, "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads)]
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
    server = Served(f"https://127.0.0.1:{port}", ca, log, process)
    try:
        wait_for_http(
            f"{server.url}/-/live", verify=ca, timeout=60, alive=lambda: process.poll() is None
        )
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
