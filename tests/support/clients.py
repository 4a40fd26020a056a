"""skopeo and podman wrappers for end-to-end tests: isolated state, never raising.

Every method returns a ``subprocess.CompletedProcess`` with text output, whatever the exit
code (tests assert on ``returncode`` and ``stderr``); a run that exceeds ``timeout`` comes
back with return code 124 and a note in ``stderr``.

Isolation (checked on this host, skopeo 1.9.3 / podman 4.3.1 / containers-image 5.23.1,
running as root):

* **Blob-info cache.** containers/image remembers which registry repos hold which blobs
  and then tries cross-repo mounts on later pushes (extra token scopes, ``mount`` and
  ``pull`` events in other repos). As root the cache path is fixed
  (``/var/lib/containers/cache/blob-info-cache-v1.boltdb``); ``--registries.d`` has no
  effect on it and skopeo has no flag for it. containers/image picks the root path only
  when ``_CONTAINERS_ROOTLESS_UID`` (falling back to the euid) is 0, and otherwise uses
  ``$XDG_DATA_HOME/containers/cache``. So for root we set ``_CONTAINERS_ROOTLESS_UID`` to
  a non-zero uid plus a per-instance ``XDG_DATA_HOME``: skopeo ``--debug`` then logs
  ``Using blob info cache at <state_dir>/data/containers/cache/...``. Podman 4.3 uses the
  same global file (its per-``--root`` cache came later) and the same trick works for it;
  as a side effect podman then keeps its network run dir under ``TMPDIR`` instead of
  creating ``/run/containers/networks``. It does not switch podman to rootless mode: that
  is decided by the real euid. For non-root callers only ``XDG_DATA_HOME`` is set.
  (Alternatives tried: deleting the shared file before each run works but races with
  parallel runs; a private mount namespace with a bind mount works but needs
  CAP_SYS_ADMIN.)
* **Credentials.** Each instance has its own auth file (``--authfile`` and
  ``REGISTRY_AUTH_FILE``), so ``login`` never writes ``/run/containers/0/auth.json``.
* ``XDG_CONFIG_HOME`` is an empty per-instance directory (no personal
  ``registries.conf``/``policy.json`` leaks in; ``/etc/containers`` applies, whose
  ``policy.json`` is ``insecureAcceptAnything``), and ``TMPDIR`` is per-instance.

TLS: pass ``cert_dir=TestPKI.cert_dir(host_port)`` (a folder holding ``ca.crt``); the same
CA is then trusted for an https token realm. A plain-HTTP registry needs
``tls_verify=False`` (skopeo/podman then try https and fall back to http).

Podman (root, no daemon, no systemd) with ``--root/--runroot/--tmpdir/--network-config-dir
--storage-driver vfs --events-backend none --cgroup-manager cgroupfs``: ``login``,
``logout``, ``pull`` (registry → containers-storage), ``tag``, ``push`` (containers-storage
→ registry, ``--digestfile`` reports the pushed digest), ``images``/``inspect`` all work.
Running containers was not needed and not tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

SKOPEO = "/usr/bin/skopeo"
PODMAN = "/usr/bin/podman"
TIMEOUT_RETURNCODE = 124
ISOLATED_ROOTLESS_UID = "65534"

PODMAN_MAX_RUNROOT = 50

Creds = str | tuple[str, str] | None


def _creds_text(creds: Creds) -> str | None:
    """``("alice", "secret")`` or ``"alice:secret"`` → ``"alice:secret"``."""
    if creds is None or isinstance(creds, str):
        return creds
    return f"{creds[0]}:{creds[1]}"


def isolated_environment(state_dir: Path, authfile: Path) -> dict[str, str]:
    """Our environment plus the per-instance cache, config, temp and auth locations."""
    folders = {name: state_dir / name for name in ("data", "config", "tmp")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        XDG_DATA_HOME=str(folders["data"]),
        XDG_CONFIG_HOME=str(folders["config"]),
        TMPDIR=str(folders["tmp"]),
        REGISTRY_AUTH_FILE=str(authfile),
    )
    if os.geteuid() == 0:
        # containers/image reads this instead of the euid to choose the blob-info-cache dir.
        env["_CONTAINERS_ROOTLESS_UID"] = ISOLATED_ROOTLESS_UID
    return env


def run_tool(
    argv: Sequence[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Run ``argv`` to completion with text output; a timeout becomes return code 124."""
    try:
        return subprocess.run(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        note = f"\n[harness] {argv[0]} killed after {timeout}s timeout\n"
        return subprocess.CompletedProcess(
            list(argv), TIMEOUT_RETURNCODE, _as_text(exc.stdout), _as_text(exc.stderr) + note
        )


def _as_text(output: bytes | str | None) -> str:
    """Partial output of a timed-out run (bytes on POSIX even with ``text=True``)."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _short_runroot(preferred: Path) -> tuple[Path, bool]:
    """``preferred`` if podman accepts its length, else a new short temp dir (owned=True)."""
    if len(str(preferred)) <= PODMAN_MAX_RUNROOT:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred, False
    return Path(tempfile.mkdtemp(prefix="podman-run-")), True


class Skopeo:
    """skopeo with per-instance blob-info cache, auth file and temp dir (see module doc).

    ``state_dir`` holds that state; ``cert_dir`` is a folder with ``ca.crt`` (or None);
    ``authfile`` defaults to ``<state_dir>/auth.json``; ``tls_verify=False`` allows plain
    HTTP and skips certificate checks.
    """

    def __init__(
        self,
        *,
        state_dir: Path | str,
        cert_dir: Path | str | None = None,
        authfile: Path | str | None = None,
        tls_verify: bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.cert_dir = Path(cert_dir) if cert_dir else None
        self.authfile = Path(authfile) if authfile else self.state_dir / "auth.json"
        self.tls_verify = tls_verify
        self.timeout = timeout
        self.env = isolated_environment(self.state_dir, self.authfile)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``skopeo ARGS`` in the isolated environment (escape hatch for other commands)."""
        return run_tool([SKOPEO, *args], self.env, self.timeout)

    def _tls_flags(self, prefix: str = "") -> list[str]:
        """``--[src-|dest-]cert-dir`` / ``--[...]tls-verify=false`` as configured."""
        flags = []
        if self.cert_dir is not None:
            flags.append(f"--{prefix}cert-dir={self.cert_dir}")
        if not self.tls_verify:
            flags.append(f"--{prefix}tls-verify=false")
        return flags

    def _creds_flags(self, creds: Creds, prefix: str = "") -> list[str]:
        """``--[src-|dest-]creds=USER:PASS`` when credentials are given."""
        text = _creds_text(creds)
        return [f"--{prefix}creds={text}"] if text is not None else []

    def _side_flags(self, ref: str, prefix: str, creds: Creds) -> list[str]:
        """TLS and credential flags for one side of a copy, only if it is ``docker://``."""
        if not ref.startswith("docker://"):
            return []
        return self._tls_flags(prefix) + self._creds_flags(creds, prefix)

    def copy(
        self,
        src: str,
        dest: str,
        creds: Creds = None,
        extra: Sequence[str] = (),
        *,
        all_images: bool = False,
        manifest_format: str | None = None,
    ) -> subprocess.CompletedProcess:
        """``skopeo copy SRC DEST``; ``creds`` go to whichever side is ``docker://``.

        ``all_images`` adds ``--all`` (keep every child of an index; without it skopeo
        copies only the child for this machine's platform); ``manifest_format`` is
        ``--format`` (``oci``, ``v2s2``; with ``--all`` an index becomes a Docker list).
        """
        flags = ["--quiet", f"--authfile={self.authfile}"]
        flags += self._side_flags(src, "src-", creds) + self._side_flags(dest, "dest-", creds)
        if all_images:
            flags.append("--all")
        if manifest_format:
            flags.append(f"--format={manifest_format}")
        return self.run("copy", *flags, *extra, src, dest)

    def _registry_command(
        self, command: str, ref: str, creds: Creds, extra: Sequence[str]
    ) -> subprocess.CompletedProcess:
        """A single-reference command (inspect, delete, list-tags) with TLS/auth flags."""
        flags = [f"--authfile={self.authfile}", *self._tls_flags(), *self._creds_flags(creds)]
        return self.run(command, *flags, *extra, ref)

    def inspect(
        self, ref: str, creds: Creds = None, extra: Sequence[str] = (), *, raw: bool = False
    ) -> subprocess.CompletedProcess:
        """``skopeo inspect REF`` (``raw=True``: the manifest exactly as stored)."""
        return self._registry_command("inspect", ref, creds, [*(["--raw"] if raw else []), *extra])

    def delete(
        self, ref: str, creds: Creds = None, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """``skopeo delete REF``: deletes the manifest by digest, so every tag on it goes."""
        return self._registry_command("delete", ref, creds, extra)

    def list_tags(
        self, ref: str, creds: Creds = None, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """``skopeo list-tags docker://HOST:PORT/REPO`` (JSON with ``Tags`` on stdout)."""
        return self._registry_command("list-tags", ref, creds, extra)

    def login(
        self, host_port: str, username: str, password: str, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """``skopeo login`` into this instance's auth file (test passwords go on the command line)."""
        flags = [f"--authfile={self.authfile}", *self._tls_flags(), "-u", username, "-p", password]
        return self.run("login", *flags, *extra, host_port)

    def logout(self, host_port: str, extra: Sequence[str] = ()) -> subprocess.CompletedProcess:
        """``skopeo logout`` from this instance's auth file."""
        return self.run("logout", f"--authfile={self.authfile}", *extra, host_port)


class Podman:
    """podman against a private vfs store under ``root_dir``, no daemon, no systemd.

    ``cert_dir``/``tls_verify`` as for ``Skopeo``; ``authfile`` defaults to
    ``<root_dir>/auth.json``. podman 4.3 refuses a ``--runroot`` longer than 50 characters
    ("the specified runroot is longer than 50 characters"), which pytest's ``tmp_path``
    always is; unless ``runroot`` is given, it is then a short ``mkdtemp`` directory that
    ``close()`` (or leaving the ``with`` block) removes.
    """

    def __init__(
        self,
        root_dir: Path | str,
        *,
        cert_dir: Path | str | None = None,
        authfile: Path | str | None = None,
        tls_verify: bool = True,
        timeout: float = 120.0,
        runroot: Path | str | None = None,
    ) -> None:
        self.root_dir = Path(root_dir)
        self.cert_dir = Path(cert_dir) if cert_dir else None
        self.authfile = Path(authfile) if authfile else self.root_dir / "auth.json"
        self.tls_verify = tls_verify
        self.timeout = timeout
        self.env = isolated_environment(self.root_dir / "state", self.authfile)
        if not self.authfile.exists():  # podman refuses to run with a missing auth file
            self.authfile.parent.mkdir(parents=True, exist_ok=True)
            self.authfile.write_text('{"auths": {}}')
        self.runroot, self._owns_runroot = _short_runroot(Path(runroot or self.root_dir / "run"))

    def close(self) -> None:
        """Remove the short runroot if we created one (the store under root_dir stays)."""
        if self._owns_runroot:
            shutil.rmtree(self.runroot, ignore_errors=True)
            self._owns_runroot = False

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def global_flags(self) -> list[str]:
        """Flags that keep podman's files under ``root_dir`` (and the runroot) without a daemon."""
        root = self.root_dir
        return [
            f"--root={root / 'storage'}",
            f"--runroot={self.runroot}",
            f"--tmpdir={root / 'libpod-tmp'}",
            f"--network-config-dir={root / 'networks'}",
            f"--volumepath={root / 'volumes'}",
            "--storage-driver=vfs",
            "--events-backend=none",
            "--cgroup-manager=cgroupfs",
        ]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``podman GLOBAL_FLAGS ARGS`` in the isolated environment."""
        return run_tool([PODMAN, *self.global_flags(), *args], self.env, self.timeout)

    def _remote_flags(self, creds: Creds = None) -> list[str]:
        """Auth file, cert dir, TLS and optional ``--creds`` for registry commands."""
        flags = [f"--authfile={self.authfile}"]
        if self.cert_dir is not None:
            flags.append(f"--cert-dir={self.cert_dir}")
        if not self.tls_verify:
            flags.append("--tls-verify=false")
        text = _creds_text(creds)
        return flags + ([f"--creds={text}"] if text is not None else [])

    def login(
        self, host_port: str, username: str, password: str, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """``podman login`` into this instance's auth file."""
        return self.run(
            "login", *self._remote_flags(), "-u", username, "-p", password, *extra, host_port
        )

    def logout(self, host_port: str) -> subprocess.CompletedProcess:
        """``podman logout`` from this instance's auth file."""
        return self.run("logout", f"--authfile={self.authfile}", host_port)

    def pull(
        self, ref: str, creds: Creds = None, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """``podman pull REF`` (e.g. ``HOST:PORT/ns/repo:tag``) into the private store."""
        return self.run("pull", "--quiet", *self._remote_flags(creds), *extra, ref)

    def push(
        self,
        ref: str,
        dest: str | None = None,
        creds: Creds = None,
        extra: Sequence[str] = (),
    ) -> subprocess.CompletedProcess:
        """``podman push REF [DEST]`` from the private store to a registry."""
        targets = [ref] if dest is None else [ref, dest]
        return self.run("push", "--quiet", *self._remote_flags(creds), *extra, *targets)

    def tag(self, src: str, dest: str) -> subprocess.CompletedProcess:
        """``podman tag SRC DEST`` in the private store."""
        return self.run("tag", src, dest)
