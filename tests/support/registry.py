"""Run the real ``docker-registry`` 2.8.2 on a loopback port for end-to-end tests.

``RegistryProcess`` writes a config (token auth, deletes enabled, optional TLS, optional
notification endpoint, optional catalog limit), starts ``docker-registry serve CONFIG``
with its output in a log file, waits for the ``/v2/`` Bearer challenge and stops only
the pid it started. ``RegistryProcess.from_config_text`` runs a config verbatim instead
(e.g. the output of ``wharfinger registry config``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import NotReadyError, free_port, require_loopback, wait_for_http

REGISTRY_BINARY = "/usr/bin/docker-registry"


def require_binaries(*names: str) -> None:
    """Skip the calling test (with the missing names) unless every binary is installed.

    Names may be bare (looked up on ``PATH``) or absolute paths. CI installs all of them,
    so a skip there means the CI image is broken.
    """
    missing = [name for name in names if not _binary_exists(name)]
    if missing:
        pytest.skip(
            f"missing binaries: {', '.join(missing)} "
            "(apt-get install docker-registry skopeo podman)"
        )


def _binary_exists(name: str) -> bool:
    """True when ``name`` is an executable path or found on ``PATH``."""
    if os.sep in name:
        return os.access(name, os.X_OK)
    return shutil.which(name) is not None


@dataclass(frozen=True)
class Notifications:
    """One notification endpoint: where the registry POSTs events and the shared secret.

    Short timeout/threshold/backoff keep retries quick in tests (defaults: 1 s, 10, 1 s).
    """

    url: str
    secret: str
    name: str = "wharfinger-test"
    timeout: str = "2s"
    threshold: int = 3
    backoff: str = "1s"


def _q(value: object) -> str:
    """Quote a scalar for YAML (JSON strings and numbers are valid YAML flow scalars)."""
    return json.dumps(str(value) if isinstance(value, Path) else value)


def _http_section(addr: str, tls: tuple[Path, Path] | None) -> list[str]:
    """The ``http:`` block: loopback listen address, throwaway secret, optional TLS."""
    lines = [
        "http:",
        f"  addr: {_q(addr)}",
        f"  secret: {_q(secrets.token_hex(16))}",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
    ]
    if tls is not None:
        lines += ["  tls:", f"    certificate: {_q(tls[0])}", f"    key: {_q(tls[1])}"]
    return lines


def _auth_section(realm: str, service: str, issuer: str, rootcertbundle: Path | str) -> list[str]:
    """The ``auth.token`` block (the only auth type; 2.8.2 rejects more than one)."""
    return [
        "auth:",
        "  token:",
        f"    realm: {_q(realm)}",
        f"    service: {_q(service)}",
        f"    issuer: {_q(issuer)}",
        f"    rootcertbundle: {_q(rootcertbundle)}",
    ]


def _notifications_section(target: Notifications) -> list[str]:
    """The ``notifications`` block; header values must be YAML lists."""
    return [
        "notifications:",
        "  endpoints:",
        f"    - name: {_q(target.name)}",
        f"      url: {_q(target.url)}",
        "      headers:",
        f"        Authorization: [{_q('Bearer ' + target.secret)}]",
        f"      timeout: {target.timeout}",
        f"      threshold: {target.threshold}",
        f"      backoff: {target.backoff}",
    ]


def registry_config(
    *,
    addr: str,
    storage: Path,
    realm: str,
    service: str,
    issuer: str,
    rootcertbundle: Path | str,
    tls: tuple[Path, Path] | None = None,
    notifications: Notifications | None = None,
    catalog_maxentries: int | None = None,
) -> str:
    """Render a registry 2.8.2 ``config.yml`` for the harness (see registry-lab §4)."""
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  formatter: text",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {_q(storage)}",
        "  delete:",
        "    enabled: true",
        *_http_section(addr, tls),
        *_auth_section(realm, service, issuer, rootcertbundle),
    ]
    if notifications is not None:
        lines += _notifications_section(notifications)
    if catalog_maxentries is not None:
        lines += ["catalog:", f"  maxentries: {int(catalog_maxentries)}"]
    return "\n".join(lines) + "\n"


def _top_level_block(config_text: str, key: str) -> str:
    """The indented lines under a top-level YAML ``key:`` (empty when absent)."""
    match = re.search(rf"^{key}:[ \t]*\n((?:[ \t]+.*\n?|[ \t]*\n)*)", config_text, re.MULTILINE)
    return match.group(1) if match else ""


def _listen_address(config_text: str) -> tuple[str, int]:
    """Host and port of ``http.addr`` in a config; refuses anything but loopback."""
    match = re.search(
        r"^\s+addr:\s*[\"']?([^\"'\s#]+)", _top_level_block(config_text, "http"), re.M
    )
    if not match:
        raise ValueError("config has no http.addr: the harness needs an explicit 127.0.0.1:PORT")
    host, _, port = match.group(1).rpartition(":")
    return require_loopback(host), int(port)


def _uses_tls(config_text: str) -> bool:
    """True when the ``http`` block has a ``tls`` block naming a certificate."""
    return bool(re.search(r"^\s+certificate:", _top_level_block(config_text, "http"), re.M))


class RegistryProcess:
    """A ``docker-registry serve`` child process on 127.0.0.1; use it as a context manager.

    ``workdir`` receives ``config.yml``, ``data/`` (storage), ``registry.log`` (stdout and
    stderr) and ``registry.pid``. ``ssl_cert_file`` replaces the inherited
    ``SSL_CERT_FILE`` so notifications to an https receiver with the test cert are trusted
    (registry-lab §7); pass ``TestPKI.bundle``. ``ca_file`` verifies the readiness probe
    over TLS. Attributes after start: ``pid``, ``host_port``, ``url``, ``startup_seconds``.
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        realm: str,
        service: str,
        issuer: str,
        rootcertbundle: Path | str,
        tls: tuple[Path, Path] | None = None,
        notifications: Notifications | None = None,
        catalog_maxentries: int | None = None,
        ssl_cert_file: Path | str | None = None,
        ca_file: Path | str | None = None,
        ready_timeout: float = 20.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        addr = f"127.0.0.1:{free_port()}"
        self.config_text = registry_config(
            addr=addr,
            storage=self.workdir / "data",
            realm=realm,
            service=service,
            issuer=issuer,
            rootcertbundle=rootcertbundle,
            tls=tls,
            notifications=notifications,
            catalog_maxentries=catalog_maxentries,
        )
        self._init_runtime(ssl_cert_file, ca_file, ready_timeout)

    @classmethod
    def from_config_text(
        cls,
        workdir: Path | str,
        config_text: str,
        *,
        ssl_cert_file: Path | str | None = None,
        ca_file: Path | str | None = None,
        ready_timeout: float = 20.0,
    ) -> RegistryProcess:
        """Run ``config_text`` exactly as given; its ``http.addr`` must be 127.0.0.1:PORT.

        TLS is detected from an ``http.tls`` block with a certificate/key.
        """
        self = cls.__new__(cls)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_text = config_text
        self._init_runtime(ssl_cert_file, ca_file, ready_timeout)
        return self

    def _init_runtime(
        self, ssl_cert_file: Path | str | None, ca_file: Path | str | None, ready_timeout: float
    ) -> None:
        """Derive address/URL from the config and set the not-yet-started state."""
        host, port = _listen_address(self.config_text)
        self.host_port = f"{host}:{port}"
        scheme = "https" if _uses_tls(self.config_text) else "http"
        self.url = f"{scheme}://{self.host_port}"
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self.pid_path = self.workdir / "registry.pid"
        self.ssl_cert_file = ssl_cert_file
        self.ca_file = ca_file
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self.startup_seconds: float | None = None

    def _environment(self) -> dict[str, str]:
        """The child's environment: ours, with ``SSL_CERT_FILE`` replaced when asked."""
        env = dict(os.environ)
        if self.ssl_cert_file is not None:
            env["SSL_CERT_FILE"] = str(self.ssl_cert_file)
        return env

    def start(self) -> RegistryProcess:
        """Write the config, start the registry, wait for the Bearer challenge on ``/v2/``."""
        require_binaries(REGISTRY_BINARY)
        self.config_path.write_text(self.config_text)
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                start_new_session=True,
            )
        self.pid = self.process.pid
        self.pid_path.write_text(f"{self.pid}\n")
        self._wait_until_ready()
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_until_ready(self) -> None:
        """Poll ``/v2/`` until it answers 401 with a Bearer challenge; stop and raise if not."""
        verify = str(self.ca_file) if self.ca_file else False
        try:
            response = wait_for_http(
                f"{self.url}/v2/", (401,), self.ready_timeout, verify, alive=self.is_running
            )
        except NotReadyError as exc:
            self.stop()
            raise NotReadyError(
                f"registry did not start: {exc}\n--- log ---\n{self.log_text()}"
            ) from None
        challenge = response.headers.get("Www-Authenticate", "")
        if not challenge.startswith("Bearer "):
            self.stop()
            raise NotReadyError(f"registry /v2/ gave no Bearer challenge: {challenge!r}")

    def is_running(self) -> bool:
        """True while the started process has not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop our own pid only: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        """Everything the registry wrote to stdout/stderr so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Wait until the log matches the regex ``pattern`` (e.g. a webhook error line)."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log_text())
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in registry log after {timeout}s")
            time.sleep(0.1)

    def __enter__(self) -> RegistryProcess:
        """Start unless already started (``with process.start():`` must not start a second
        registry that fails to bind while the first one is never stopped)."""
        return self if self.is_running() else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
