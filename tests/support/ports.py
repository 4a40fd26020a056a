"""Loopback ports and readiness polling for processes started by end-to-end tests.

Everything here refuses non-loopback addresses: the harness must never talk to anything
but 127.0.0.1 (or ``localhost``), whatever a caller passes in.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

import requests

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


class NotReadyError(RuntimeError):
    """A port or URL did not become ready in time (or its process died first)."""


def require_loopback(host: str) -> str:
    """Return ``host`` unchanged, or raise ``ValueError`` if it is not a loopback name."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"test harness only talks to 127.0.0.1/localhost, not {host!r}")
    return host


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _still_alive(alive: Callable[[], bool] | None) -> None:
    """Raise early when the watched process has already exited (no point waiting further)."""
    if alive is not None and not alive():
        raise NotReadyError("the process exited before it became ready")


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Block until a TCP connect to ``host:port`` succeeds, or raise ``NotReadyError``."""
    require_loopback(host)
    deadline = time.monotonic() + timeout
    while True:
        _still_alive(alive)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise NotReadyError(f"{host}:{port} not accepting connections: {exc}") from None
        time.sleep(0.05)


def loopback_session() -> requests.Session:
    """A ``requests`` session that ignores proxy and CA environment variables.

    ``trust_env=False`` keeps a stray ``HTTP(S)_PROXY`` from routing loopback traffic
    elsewhere; TLS trust is then exactly the ``verify`` argument of each call.
    """
    session = requests.Session()
    session.trust_env = False
    return session


def wait_for_http(
    url: str,
    ok_statuses: Collection[int] = (200,),
    timeout: float = 10.0,
    verify: bool | str = True,
    alive: Callable[[], bool] | None = None,
) -> requests.Response:
    """Poll ``GET url`` until it answers with one of ``ok_statuses``; return that response.

    ``verify`` is passed to ``requests`` (a CA file path, ``True`` or ``False``). Connection
    errors and other statuses are retried until ``timeout``; ``alive`` (optional) aborts the
    wait as soon as it returns False, e.g. ``lambda: proc.poll() is None``.
    """
    require_loopback(urlsplit(url).hostname or "")
    deadline = time.monotonic() + timeout
    last = "no answer"
    with loopback_session() as session:
        while True:
            _still_alive(alive)
            try:
                response = session.get(url, timeout=2, verify=verify)
                if response.status_code in ok_statuses:
                    return response
                last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise NotReadyError(f"{url} not ready after {timeout}s (last: {last})")
            time.sleep(0.05)
