"""``wharfinger serve``: gunicorn with TLS and the balanced gthread worker, for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.ports import free_port, wait_for_http

WHARFINGER = str(Path(sys.executable).with_name("wharfinger"))


def test_serve_answers_over_tls_with_keep_alive(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARFINGER_")}
    env.update(WHARFINGER_INSTANCE_PATH=str(tmp_path), WHARFINGER_SYNC_STRATEGY="off")
    subprocess.run([WHARFINGER, "init"], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(
        [WHARFINGER, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"https://127.0.0.1:{port}/-/live"
        wait_for_http(
            url, verify=str(tmp_path / "tls.crt"), timeout=30, alive=lambda: server.poll() is None
        )
        ca = str(tmp_path / "tls.crt")
        with requests.Session() as session:  # one kept-alive connection
            statuses = [session.get(url, timeout=5, verify=ca).status_code for _ in range(20)]
        assert statuses == [200] * 20
        token = requests.get(
            f"https://127.0.0.1:{port}/v2/token",
            params={"service": "x"},
            verify=str(tmp_path / "tls.crt"),
            timeout=5,
        )
        assert token.status_code == 400  # the app behind gunicorn answers, not a crash
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "app.workers.BalancedThreadWorker" in output or "Booting worker" in output
    assert "Traceback" not in output, output
