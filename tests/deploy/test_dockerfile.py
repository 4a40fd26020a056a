"""The image: what the Dockerfile declares, and its entry point run in a plain virtualenv.

No container engine runs here, so the entry point script is run as the image would run it
(``docker-entrypoint.sh serve ...`` with the virtualenv's ``wharfinger`` on PATH and
the image's environment) against a temporary instance folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.files import (
    ROOT,
    clean_environment,
    dockerfile_env,
    dockerfile_instructions,
    dockerignore_patterns,
    dockerignored,
    run,
)
from tests.support.ports import free_port, loopback_session, wait_for_http

INSTRUCTIONS = dockerfile_instructions()
ENV = dockerfile_env(INSTRUCTIONS)
ENTRYPOINT_SCRIPT = ROOT / "deploy" / "docker-entrypoint.sh"
HEALTHCHECK_SCRIPT = ROOT / "deploy" / "healthcheck.py"


def _all(keyword: str) -> list[str]:
    return [i.args for i in INSTRUCTIONS if i.keyword == keyword]


def _last(keyword: str) -> str:
    found = _all(keyword)
    assert found, f"the Dockerfile has no {keyword}"
    return found[-1]


def _workdir() -> str:
    return _last("WORKDIR")


def _in_image(path: str) -> Path:
    """The repository file that lands at ``path`` in the image (the source tree is the
    WORKDIR)."""
    workdir = _workdir().rstrip("/") + "/"
    assert path.startswith(workdir), f"{path} is not inside {workdir}"
    return ROOT / path.removeprefix(workdir)


def test_base_image_is_slim_python_311():
    assert _all("FROM") == [_last("FROM")], "one stage"
    assert _last("FROM").startswith("python:3.11-slim")


def test_runs_as_a_non_root_user_after_every_build_step():
    keywords = [i.keyword for i in INSTRUCTIONS]
    user = _last("USER")
    assert user.split(":")[0] not in {"root", "0", ""}
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_exposes_8443_and_keeps_the_instance_folder_in_a_volume():
    assert "8443" in " ".join(_all("EXPOSE")).split()
    assert ENV["WHARFINGER_INSTANCE_PATH"] == "/var/lib/wharfinger"
    assert "/var/lib/wharfinger" in json.loads(_last("VOLUME"))


def test_healthcheck_probes_live_over_tls_with_the_shipped_script():
    healthcheck = _last("HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python"
    assert _in_image(command[1]) == HEALTHCHECK_SCRIPT
    assert "https://127.0.0.1:8443/-/live" in HEALTHCHECK_SCRIPT.read_text()


def test_entrypoint_is_the_shipped_script_and_serves_by_default():
    entrypoint = json.loads(_last("ENTRYPOINT"))
    assert [_in_image(entrypoint[0])] == [ENTRYPOINT_SCRIPT]
    assert os.access(ENTRYPOINT_SCRIPT, os.X_OK), "git must keep the executable bit"
    assert json.loads(_last("CMD")) == ["serve", "--bind", "0.0.0.0:8443"]


def test_migrations_sit_beside_the_package():
    """app/__init__.py finds migrations at ../migrations, so the tree is installed editable."""
    copies = {tuple(args.split()) for args in _all("COPY")}
    assert ("app", "./app") in copies
    assert ("migrations", "./migrations") in copies
    assert any("pip install -e ." in r for r in _all("RUN")), "editable: app/ stays in WORKDIR"


def test_everything_copied_exists_and_is_not_dockerignored():
    patterns = dockerignore_patterns()
    for args in _all("COPY"):
        *sources, _destination = args.split()
        for source in sources:
            assert not source.startswith("--"), f"unexpected COPY flag in {args}"
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not dockerignored(source, patterns), f"COPY {source} is in .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        "instance/tls.key",
        ".env",
        "app/__pycache__/cli.cpython-311.pyc",
        "wharfinger.egg-info/PKG-INFO",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        "test-artifacts/log.txt",
        ".git/HEAD",
    ],
)
def test_dockerignore_keeps_local_state_out_of_the_build_context(path):
    assert dockerignored(path, dockerignore_patterns())


def _image_environment(tmp_path: Path) -> dict[str, str]:
    """What the image sets, with the paths of this machine: a temporary instance folder
    and runtime folder."""
    return clean_environment(
        XDG_RUNTIME_DIR=str(tmp_path),
        WHARFINGER_INSTANCE_PATH=str(tmp_path / "instance"),
        WHARFINGER_SYNC_STRATEGY="off",
    )


def _wait_for_file(path: Path, alive, timeout: float = 60.0) -> None:
    """Block until ``path`` exists (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert alive(), "the entry point exited early"
        assert time.monotonic() < deadline, f"{path} was not created in {timeout}s"
        time.sleep(0.05)


def test_entrypoint_initialises_then_serves_tls_and_the_healthcheck_passes(tmp_path):
    env = _image_environment(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [str(ENTRYPOINT_SCRIPT), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ca = tmp_path / "instance" / "tls.crt"
        _wait_for_file(ca, alive=lambda: server.poll() is None)  # written by `init`
        ca = str(ca)
        live = f"https://127.0.0.1:{port}/-/live"
        response = wait_for_http(live, verify=ca, timeout=60, alive=lambda: server.poll() is None)
        assert response.json() == {"status": "ok"}
        with loopback_session() as session:  # verify= per request, env CA variables ignored
            assert session.get(live, verify=ca, timeout=5).status_code == 200
        probe = run(["python", str(HEALTHCHECK_SCRIPT)], {**env, "HEALTHCHECK_URL": live}, tmp_path)
        assert probe.returncode == 0, probe.stderr
    finally:
        server.send_signal(signal.SIGTERM)  # exec: the script's pid is gunicorn's master
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "database is at the latest schema" in output  # `wharfinger init` ran first
    assert output.index("database is at the latest schema") < output.index("Listening at")
    assert (tmp_path / "instance" / "token-signing.key").exists()
    assert "Traceback" not in output, output


def test_healthcheck_fails_when_nothing_answers(tmp_path):
    url = f"https://127.0.0.1:{free_port()}/-/live"
    probe = run(
        ["python", str(HEALTHCHECK_SCRIPT)],
        clean_environment(HEALTHCHECK_URL=url),
        tmp_path,
        timeout=30,
    )
    assert probe.returncode == 1
    assert "unhealthy" in probe.stderr


def test_worker_command_imports_with_the_image_pythonpath(tmp_path):
    """From any working directory, `wharfinger worker` starts (and then stops because no
    Redis is configured, with its one-line error)."""
    result = run(["wharfinger", "worker", "--burst"], _image_environment(tmp_path), tmp_path)
    assert "ModuleNotFoundError" not in result.stderr, result.stderr
    assert result.returncode == 1
    assert "WHARFINGER_REDIS_URL is not set" in result.stderr
