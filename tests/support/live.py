"""Serve a Flask app on a real 127.0.0.1 socket in a daemon thread (HTTP or HTTPS).

End-to-end tests need Wharfinger reachable by processes that are not Python: the real
registry fetches nothing from it, but skopeo and podman follow the registry's challenge to
the token realm. ``LiveServer`` runs werkzeug's threaded server over the *same* app object
as the test, so fixtures that create rows or wipe tables act on what the server sees.

Each request is recorded (method, path, status) in ``LiveServer.requests``, so a test can
check how a client talked to the token endpoint (GET with Basic or POST with a refresh
token) without reading logs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.ports import require_loopback

SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request the live server answered: method, path, query string and status code."""

    method: str
    path: str
    query: str
    status: int


class _Recorder:
    """WSGI middleware that appends a ``RecordedRequest`` for every answered request."""

    def __init__(self, app: Callable, sink: list[RecordedRequest]) -> None:
        self.app = app
        self.sink = sink

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Pass the request through, noting the status when the app starts its response."""

        def recording_start(status: str, headers: list, exc_info=None):
            self.sink.append(
                RecordedRequest(
                    environ.get("REQUEST_METHOD", ""),
                    environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""),
                    int(status.split(" ", 1)[0]),
                )
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start)


class LiveServer:
    """A werkzeug server for ``app`` on 127.0.0.1 (a free port); use as a context manager.

    ``tls`` is ``(cert_path, key_path)`` for HTTPS or None for plain HTTP. After ``start``:
    ``port``, ``url`` (``https://127.0.0.1:PORT`` or ``http://...``) and ``requests``.
    ``stop`` shuts the server down and joins its thread; both are idempotent.
    """

    def __init__(
        self,
        app: Callable,
        tls: tuple[Path | str, Path | str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.app = app
        self.tls = (str(tls[0]), str(tls[1])) if tls else None
        self.host = require_loopback(host)
        self.requests: list[RecordedRequest] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (only after ``start``)."""
        if self._server is None:
            raise RuntimeError("LiveServer is not running: call start() first")
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``https://127.0.0.1:43123``."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        """Bind port 0 (the kernel picks a free port: no race) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = make_server(
            self.host,
            0,
            _Recorder(self.app, self.requests),
            threaded=True,
            ssl_context=self.tls,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LiveServer:{self._server.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting requests, close the socket and wait for the serving thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(SHUTDOWN_TIMEOUT)
        server.server_close()
        self._server, self._thread = None, None

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The recorded requests for ``path`` (and ``method`` when given), oldest first."""
        return [
            r
            for r in list(self.requests)
            if r.path == path and (method is None or r.method == method)
        ]

    def __enter__(self) -> LiveServer:
        """Start serving (``with LiveServer(app) as live:``)."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving, also when the block raised."""
        self.stop()


@contextlib.contextmanager
def serving(server, poll_interval: float = 0.5) -> Iterator:
    """Run a ``socketserver`` server on a daemon thread; shut it down and close it after."""
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
