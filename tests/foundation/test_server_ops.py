"""/metrics under the real multi-worker gunicorn: one scrape sums every worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.metrics import sample_value
from tests.support.ports import loopback_session
from tests.support.serve import WHARFINGER, clean_env, served

REQUESTS = 48
BAD_REQUEST = 'wharfinger_token_requests_total{outcome="bad_request"}'


def _token_request(url: str, ca: str) -> int:
    """One request on its own connection, so gunicorn may give it to any worker."""
    with loopback_session() as session:
        return session.get(
            f"{url}/v2/token", params={"service": "x"}, verify=ca, timeout=10
        ).status_code


def _scrape(url: str, ca: str) -> str:
    with loopback_session() as session:
        response = session.get(f"{url}/metrics", verify=ca, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def _worker_pids(folder) -> set[int]:
    """Workers that recorded something: one counter file per process id."""
    return {
        int(m.group(1)) for f in os.listdir(folder) if (m := re.match(r"counter_(\d+)\.db$", f))
    }


def test_a_scrape_sums_the_counts_of_every_worker(tmp_path):
    env = clean_env(INSTANCE_PATH=str(tmp_path), SYNC_STRATEGY="off")
    subprocess.run([WHARFINGER, "init"], env=env, check=True, capture_output=True, timeout=120)
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left over from the previous run")
    ca = str(tmp_path / "tls.crt")
    with served(env, ca, tmp_path / "serve.log", workers=2, threads=1) as server:
        assert not (folder / "counter_1.db").exists()  # the folder was emptied at start
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: _token_request(server.url, ca), range(REQUESTS)))
        assert statuses == [400] * REQUESTS
        pids = _worker_pids(folder)
        assert len(pids) == 2, f"both workers should have answered some: {pids}"
        text = _scrape(server.url, ca)
        assert (
            sample_value(text, "wharfinger_token_requests_total", outcome="bad_request") == REQUESTS
        )
        # A worker that exits keeps its counts in the sum (gunicorn starts a new one).
        os.kill(min(pids), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while not _exited(min(pids)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _exited(min(pids))
        text = _scrape(server.url, ca)
        assert (
            sample_value(text, "wharfinger_token_requests_total", outcome="bad_request") == REQUESTS
        )
    assert "Traceback" not in server.output(), server.output()


def _exited(pid: int) -> bool:
    """True once the process is gone (the gunicorn master reaped it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_access_log_shows_the_address_the_proxy_forwarded(tmp_path):
    env = clean_env(INSTANCE_PATH=str(tmp_path), SYNC_STRATEGY="off", PROXY_COUNT="1")
    subprocess.run([WHARFINGER, "init"], env=env, check=True, capture_output=True, timeout=120)
    ca = str(tmp_path / "tls.crt")
    with served(env, ca, tmp_path / "serve.log") as server, loopback_session() as session:
        forwarded = {"X-Forwarded-For": "198.51.100.7"}
        response = session.get(f"{server.url}/metrics", headers=forwarded, verify=ca, timeout=10)
        assert response.status_code == 403  # a remote client, even through a local proxy
        session.get(f"{server.url}/-/live?no-proxy", verify=ca, timeout=10)
    lines = server.output().splitlines()
    assert any(line.startswith("198.51.100.7 ") and "/metrics" in line for line in lines)
    assert any(line.startswith("127.0.0.1 ") and "no-proxy" in line for line in lines)
